// Applies the theme saved by the toggle (localStorage "mh.theme": "light" | "dark") before the
// app starts, so a dark-mode user never sees a white flash. Without a saved choice the CSS
// follows the system preference.
(function () {
  try {
    var t = localStorage.getItem('mh.theme');
    if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  } catch (e) {
    /* storage disabled: the system preference applies */
  }
})();
