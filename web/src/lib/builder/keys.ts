// The builder's keys that the app's shortcut registry does not take (docs/ui.md, keyboard): the
// arrows and Enter, only while the canvas or the page has the focus (so Enter still presses a
// focused button), and the Ctrl/⌘ combinations. Pure: the key and where it was pressed in, what
// to do out.

export type KeyAction =
  | { do: 'move'; dx: number; dy: number }
  | { do: 'form' | 'save' | 'undo' | 'redo' | 'copy' | 'paste' };

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  defaultPrevented: boolean;
}

export interface KeyPlace {
  /** The focus is in a field that takes text. */
  typing: boolean;
  /** The focus is on the canvas or on nothing. */
  onPage: boolean;
  /** The focus is on a select (whose arrows are its own). */
  inSelect: boolean;
  /** A dialog is open. */
  dialogOpen: boolean;
  /** One node is selected. */
  hasCurrent: boolean;
}

const ARROWS: Record<string, [number, number]> = {
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0]
};

/** What `e` does in the builder, and whether its default is to be prevented (a copy keeps it, so
 * the browser copies a text selection too); null for a key the builder leaves alone. */
export function keyAction(e: KeyPress, at: KeyPlace): { action: KeyAction; prevent: boolean } | null {
  if (!(e.ctrlKey || e.metaKey)) {
    if (e.defaultPrevented || e.altKey || at.typing || at.dialogOpen) return null;
    const arrow = ARROWS[e.key];
    if (arrow && !at.inSelect) return { action: { do: 'move', dx: arrow[0], dy: arrow[1] }, prevent: true };
    if (e.key === 'Enter' && at.onPage && at.hasCurrent) return { action: { do: 'form' }, prevent: true };
    return null;
  }
  const k = e.key.toLowerCase();
  // Saving works from a field too: the edit typed there is in the draft already.
  if (k === 's') return { action: { do: 'save' }, prevent: true };
  if (at.typing) return null;
  if (k === 'z') return { action: { do: e.shiftKey ? 'redo' : 'undo' }, prevent: true };
  if (k === 'y') return { action: { do: 'redo' }, prevent: true };
  if (k === 'c') return { action: { do: 'copy' }, prevent: false };
  if (k === 'v') return { action: { do: 'paste' }, prevent: true };
  return null;
}
