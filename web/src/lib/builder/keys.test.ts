import { describe, expect, it } from 'vitest';
import { keyAction, type KeyPlace, type KeyPress } from './keys';

const press = (key: string, mods: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  defaultPrevented: false,
  ...mods
});
const canvas: KeyPlace = { typing: false, onPage: true, inSelect: false, dialogOpen: false, hasCurrent: true };
const inField: KeyPlace = { ...canvas, typing: true, onPage: false };

describe("the builder's keys", () => {
  it('move the selection with the arrows, but not in a field, a select, a dialog or with Alt', () => {
    expect(keyAction(press('ArrowUp'), canvas)).toEqual({ action: { do: 'move', dx: 0, dy: -1 }, prevent: true });
    expect(keyAction(press('ArrowRight'), { ...canvas, onPage: false })?.action).toEqual({ do: 'move', dx: 1, dy: 0 });
    expect(keyAction(press('ArrowDown'), inField)).toBeNull();
    expect(keyAction(press('ArrowLeft'), { ...canvas, inSelect: true })).toBeNull();
    expect(keyAction(press('ArrowLeft'), { ...canvas, dialogOpen: true })).toBeNull();
    expect(keyAction(press('ArrowLeft', { altKey: true }), canvas)).toBeNull();
    expect(keyAction(press('ArrowLeft', { defaultPrevented: true }), canvas)).toBeNull();
  });

  it("open the node's form with Enter on the canvas only, with one node selected", () => {
    expect(keyAction(press('Enter'), canvas)).toEqual({ action: { do: 'form' }, prevent: true });
    expect(keyAction(press('Enter'), { ...canvas, onPage: false })).toBeNull();
    expect(keyAction(press('Enter'), { ...canvas, hasCurrent: false })).toBeNull();
    expect(keyAction(press('a'), canvas)).toBeNull();
  });

  it('save with Ctrl or ⌘+S, from a field too', () => {
    expect(keyAction(press('s', { ctrlKey: true }), inField)).toEqual({ action: { do: 'save' }, prevent: true });
    expect(keyAction(press('S', { metaKey: true, shiftKey: true }), canvas)?.action).toEqual({ do: 'save' });
  });

  it('undo, redo, copy and paste outside fields; copy keeps the browser copying', () => {
    const ctrl = (key: string, shiftKey = false) => keyAction(press(key, { ctrlKey: true, shiftKey }), canvas);
    expect(ctrl('z')).toEqual({ action: { do: 'undo' }, prevent: true });
    expect(ctrl('Z', true)).toEqual({ action: { do: 'redo' }, prevent: true });
    expect(ctrl('y')).toEqual({ action: { do: 'redo' }, prevent: true });
    expect(ctrl('c')).toEqual({ action: { do: 'copy' }, prevent: false });
    expect(ctrl('v')).toEqual({ action: { do: 'paste' }, prevent: true });
    expect(ctrl('x')).toBeNull();
    for (const k of ['z', 'y', 'c', 'v']) expect(keyAction(press(k, { metaKey: true }), inField)).toBeNull();
  });
});
