import { describe, expect, it } from 'vitest';
import { safeNext, switchProjectPath } from './paths';

describe('switchProjectPath', () => {
  it('keeps the section and drops rows of the old project', () => {
    expect(switchProjectPath('/p/a/workflows', 'a', 'b')).toBe('/p/b/workflows');
    expect(switchProjectPath('/p/a/workflows/w1', 'a', 'b')).toBe('/p/b/workflows');
    expect(switchProjectPath('/p/a/settings/members', 'a', 'b')).toBe('/p/b/settings/members');
    expect(switchProjectPath('/p/a', 'a', 'b')).toBe('/p/b');
  });
  it('goes to the overview from outside a project', () => {
    expect(switchProjectPath('/account/tokens', undefined, 'b')).toBe('/p/b');
    expect(switchProjectPath('/projects/new', undefined, 'b')).toBe('/p/b');
  });
});

describe('safeNext', () => {
  it('accepts paths of this app', () => {
    expect(safeNext('/p/x/workflows?q=a')).toBe('/p/x/workflows?q=a');
  });
  it('refuses other origins and loops back to sign-in', () => {
    expect(safeNext('https://evil.example/')).toBe('/');
    expect(safeNext('//evil.example/')).toBe('/');
    expect(safeNext('/\\evil.example')).toBe('/');
    expect(safeNext('/login?next=/x')).toBe('/');
    expect(safeNext(null)).toBe('/');
  });
});
