// The live set of shortcut bindings. The root layout registers the global ones; a page calls
// useShortcuts() in its script to add its own for as long as it is mounted.
import { untrack } from 'svelte';
import type { Binding } from './shortcuts';

class Registry {
  bindings = $state<Binding[]>([]);
  helpOpen = $state(false);

  /** Adds `list`; returns the function that removes it. Reads nothing reactively, so an
   * effect may call it without depending on the bindings it changes. */
  add(list: Binding[]): () => void {
    untrack(() => (this.bindings = [...this.bindings, ...list]));
    return () => untrack(() => (this.bindings = this.bindings.filter((b) => !list.includes(b))));
  }
}

export const shortcuts = new Registry();

/** Registers `list` while the calling component is mounted. */
export function useShortcuts(list: Binding[]): void {
  $effect(() => shortcuts.add(list));
}
