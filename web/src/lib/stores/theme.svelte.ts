// Light, dark, or the system's preference. A choice is kept in localStorage ("mh.theme");
// static/theme.js applies it (or the system preference) as <html data-theme> before the first
// paint and follows the system while no choice is saved. This store changes the choice.
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

function systemTheme(): 'light' | 'dark' {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

class Theme {
  choice = $state<ThemeChoice>(typeof localStorage === 'undefined' ? 'system' : read());
  /** The theme in effect now. */
  effective = $state<'light' | 'dark'>(typeof window === 'undefined' ? 'light' : systemTheme());

  constructor() {
    if (typeof window === 'undefined') return;
    this.effective = this.choice === 'system' ? systemTheme() : this.choice;
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      if (this.choice === 'system') this.effective = systemTheme();
    });
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      if (choice === 'system') localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch {
      /* storage disabled: the choice lasts for this page only */
    }
    this.effective = choice === 'system' ? systemTheme() : choice;
    document.documentElement.dataset.theme = this.effective;
  }

  toggle(): void {
    this.set(this.effective === 'dark' ? 'light' : 'dark');
  }
}

export const theme = new Theme();
