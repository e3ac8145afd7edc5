// Keyboard shortcuts: single keys ("?", "/") and two-key sequences ("g w"), ignored while the
// user types in a field. Pure: the matcher takes key events' keys and a clock, so it is unit
// tested without a browser. Pages and the builder register their own bindings with a scope
// (shown in the "?" dialog under that heading).

export interface Binding {
  /** "?" or "g w": keys separated by spaces. */
  keys: string;
  description: string;
  scope: string;
  run: () => void;
}

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
}

/** A sequence's second key must come within this many milliseconds of the first. */
export const SEQUENCE_TIMEOUT_MS = 1200;

export class ShortcutMatcher {
  private pending: string | null = null;
  private pendingAt = 0;

  constructor(private readonly bindings: () => Binding[]) {}

  /** Returns the binding the key completes, or null (a prefix key is remembered). */
  feed(ev: KeyLike, now: number): Binding | null {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) {
      this.pending = null;
      return null;
    }
    const key = ev.key;
    const all = this.bindings();
    if (this.pending !== null && now - this.pendingAt <= SEQUENCE_TIMEOUT_MS) {
      const seq = `${this.pending} ${key}`;
      this.pending = null;
      const hit = all.find((b) => b.keys === seq);
      if (hit) return hit;
    }
    this.pending = null;
    const single = all.find((b) => b.keys === key);
    if (single) return single;
    if (all.some((b) => b.keys.startsWith(`${key} `))) {
      this.pending = key;
      this.pendingAt = now;
    }
    return null;
  }
}

/** True when keys typed at `el` belong to it (fields, editors), not to the shortcuts. */
export function isTypingTarget(el: EventTarget | null): boolean {
  if (!el || typeof (el as HTMLElement).tagName !== 'string') return false;
  const h = el as HTMLElement;
  const tag = h.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag === 'input') {
    const type = ((h as HTMLInputElement).type || 'text').toLowerCase();
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(type);
  }
  return h.isContentEditable === true;
}

/** Groups bindings by scope for the help dialog, keeping registration order. */
export function groupByScope(bindings: Binding[]): { scope: string; items: Binding[] }[] {
  const out: { scope: string; items: Binding[] }[] = [];
  for (const b of bindings) {
    let g = out.find((x) => x.scope === b.scope);
    if (!g) {
      g = { scope: b.scope, items: [] };
      out.push(g);
    }
    g.items.push(b);
  }
  return out;
}
