import { describe, expect, it } from 'vitest';
import { SEQUENCE_TIMEOUT_MS, ShortcutMatcher, groupByScope, isTypingTarget, type Binding } from './shortcuts';

const noop = () => {};
const bindings: Binding[] = [
  { keys: '?', description: 'help', scope: 'Anywhere', run: noop },
  { keys: '/', description: 'search', scope: 'Anywhere', run: noop },
  { keys: 'g w', description: 'workflows', scope: 'Go to', run: noop },
  { keys: 'g r', description: 'runs', scope: 'Go to', run: noop }
];

describe('ShortcutMatcher', () => {
  it('matches single keys and two-key sequences', () => {
    const m = new ShortcutMatcher(() => bindings);
    expect(m.feed({ key: '?' }, 0)?.description).toBe('help');
    expect(m.feed({ key: 'g' }, 10)).toBeNull();
    expect(m.feed({ key: 'w' }, 20)?.description).toBe('workflows');
    expect(m.feed({ key: 'g' }, 30)).toBeNull();
    expect(m.feed({ key: 'r' }, 40)?.description).toBe('runs');
  });

  it('forgets a prefix after the timeout or a modifier', () => {
    const m = new ShortcutMatcher(() => bindings);
    m.feed({ key: 'g' }, 0);
    expect(m.feed({ key: 'w' }, SEQUENCE_TIMEOUT_MS + 1)).toBeNull();
    m.feed({ key: 'g' }, 0);
    expect(m.feed({ key: 'w', ctrlKey: true }, 5)).toBeNull();
    expect(m.feed({ key: 'w' }, 6)).toBeNull();
  });

  it('a wrong second key does not fire and can start a new match', () => {
    const m = new ShortcutMatcher(() => bindings);
    m.feed({ key: 'g' }, 0);
    expect(m.feed({ key: '?' }, 5)?.description).toBe('help');
    m.feed({ key: 'g' }, 10);
    expect(m.feed({ key: 'x' }, 15)).toBeNull();
    expect(m.feed({ key: 'w' }, 20)).toBeNull();
  });

  it('sees bindings added later', () => {
    const list = [...bindings];
    const m = new ShortcutMatcher(() => list);
    expect(m.feed({ key: 'n' }, 0)).toBeNull();
    list.push({ keys: 'n', description: 'new', scope: 'Workflows', run: noop });
    expect(m.feed({ key: 'n' }, 1)?.description).toBe('new');
  });
});

describe('isTypingTarget', () => {
  const el = (tagName: string, extra: Record<string, unknown> = {}) => ({ tagName, ...extra }) as unknown as EventTarget;
  it('treats text fields, selects and editable content as typing', () => {
    expect(isTypingTarget(el('INPUT', { type: 'text' }))).toBe(true);
    expect(isTypingTarget(el('INPUT', { type: 'search' }))).toBe(true);
    expect(isTypingTarget(el('TEXTAREA'))).toBe(true);
    expect(isTypingTarget(el('SELECT'))).toBe(true);
    expect(isTypingTarget(el('DIV', { isContentEditable: true }))).toBe(true);
  });
  it('lets shortcuts through from buttons, checkboxes and the page', () => {
    expect(isTypingTarget(el('INPUT', { type: 'checkbox' }))).toBe(false);
    expect(isTypingTarget(el('BUTTON'))).toBe(false);
    expect(isTypingTarget(el('DIV'))).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});

describe('groupByScope', () => {
  it('groups in registration order', () => {
    expect(groupByScope(bindings).map((g) => [g.scope, g.items.length])).toEqual([
      ['Anywhere', 2],
      ['Go to', 2]
    ]);
  });
});
