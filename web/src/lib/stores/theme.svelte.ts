// Light, dark, or the system's preference; a choice is kept in localStorage ("mh.theme") and
// applied before the first paint by static/theme.js.
export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'mh.theme';

function read(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

class Theme {
  choice = $state<ThemeChoice>(typeof localStorage === 'undefined' ? 'system' : read());

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      if (choice === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      /* storage disabled: the choice lasts for this page only */
    }
    if (choice === 'system') delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = choice;
  }

  /** The theme in effect now. */
  get effective(): 'light' | 'dark' {
    if (this.choice !== 'system') return this.choice;
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  toggle(): void {
    this.set(this.effective === 'dark' ? 'light' : 'dark');
  }
}

export const theme = new Theme();
