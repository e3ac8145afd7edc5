// Sets <html data-theme="light|dark"> before the app starts, so a dark-mode user never sees a
// white flash: the choice saved by the toggle (localStorage "mh.theme"), else the system's
// preference, followed live when it changes. The CSS reads only data-theme.
(function () {
  var mq = window.matchMedia('(prefers-color-scheme: dark)');
  function saved() {
    try {
      var t = localStorage.getItem('mh.theme');
      return t === 'light' || t === 'dark' ? t : null;
    } catch (e) {
      return null; /* storage disabled: the system preference applies */
    }
  }
  function apply() {
    document.documentElement.dataset.theme = saved() || (mq.matches ? 'dark' : 'light');
  }
  apply();
  mq.addEventListener('change', apply);
})();
