import { describe, expect, it } from 'vitest';
import { exactTime, formatDuration, relativeTime } from './time';

const now = Date.parse('2026-12-06T12:00:00Z');

describe('relativeTime', () => {
  it('says just now within 45 seconds either way', () => {
    expect(relativeTime('2026-12-06T11:59:30Z', now)).toBe('just now');
    expect(relativeTime('2026-12-06T12:00:20Z', now)).toBe('just now');
  });
  it('picks the largest whole unit', () => {
    expect(relativeTime('2026-12-06T11:55:00Z', now)).toBe('5 minutes ago');
    expect(relativeTime('2026-12-06T09:00:00Z', now)).toBe('3 hours ago');
    expect(relativeTime('2026-12-05T12:00:00Z', now)).toBe('yesterday');
    expect(relativeTime('2026-12-06T14:00:00Z', now)).toBe('in 2 hours');
    expect(relativeTime('2025-12-06T12:00:00Z', now)).toBe('last year');
  });
  it('shows a dash for nothing or garbage', () => {
    expect(relativeTime(null, now)).toBe('—');
    expect(relativeTime('not a date', now)).toBe('—');
  });
});

describe('exactTime', () => {
  it('formats a parseable time and leaves the rest empty', () => {
    expect(exactTime('2026-12-06T12:00:00Z')).toMatch(/^2026-12-0[67] \d\d:00:00$/);
    expect(exactTime(undefined)).toBe('');
  });
});

describe('formatDuration', () => {
  it('reads at every scale', () => {
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(40)).toBe('40 ms');
    expect(formatDuration(2500)).toBe('2.5 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(7_800_000)).toBe('2 h 10 min');
    expect(formatDuration(-5)).toBe('0 ms');
  });
});
