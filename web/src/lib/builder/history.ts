// Undo and redo over snapshots of the definition. Pure: the builder pushes a snapshot after each
// change it makes (a node added, moved, connected, deleted, a field edited) and gets back the
// snapshot to restore. A snapshot equal to the current one is not pushed, so a click that
// changes nothing leaves no empty step behind.

export class History<T> {
  private past: string[] = [];
  private future: string[] = [];
  private current: string;

  constructor(initial: T, private readonly limit = 200) {
    this.current = JSON.stringify(initial);
  }

  /** Records `state` as the newest step; returns false when it equals the current one. */
  push(state: T): boolean {
    const s = JSON.stringify(state);
    if (s === this.current) return false;
    this.past.push(this.current);
    if (this.past.length > this.limit) this.past.shift();
    this.current = s;
    this.future = [];
    return true;
  }

  /** Forgets the steps, keeping `state` as the current one (after loading another draft). */
  reset(state: T): void {
    this.past = [];
    this.future = [];
    this.current = JSON.stringify(state);
  }

  undo(): T | null {
    const prev = this.past.pop();
    if (prev === undefined) return null;
    this.future.push(this.current);
    this.current = prev;
    return JSON.parse(prev) as T;
  }

  redo(): T | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(this.current);
    this.current = next;
    return JSON.parse(next) as T;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }
}
