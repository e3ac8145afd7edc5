import { describe, expect, it } from 'vitest';
import { History } from './history';

describe('undo and redo', () => {
  it('walk back and forth over pushed states', () => {
    const h = new History({ n: 0 });
    expect(h.push({ n: 1 })).toBe(true);
    h.push({ n: 2 });
    expect(h.undo()).toEqual({ n: 1 });
    expect(h.undo()).toEqual({ n: 0 });
    expect(h.undo()).toBeNull();
    expect(h.redo()).toEqual({ n: 1 });
    expect(h.canRedo).toBe(true);
  });
  it('drop the redo steps after a new change and skip no-op pushes', () => {
    const h = new History({ n: 0 });
    h.push({ n: 1 });
    h.undo();
    expect(h.push({ n: 0 })).toBe(false);
    h.push({ n: 5 });
    expect(h.canRedo).toBe(false);
    expect(h.undo()).toEqual({ n: 0 });
  });
  it('keep at most `limit` steps', () => {
    const h = new History(0, 3);
    for (let i = 1; i <= 10; i++) h.push(i);
    let n = 0;
    while (h.undo() !== null) n++;
    expect(n).toBe(3);
  });
});
