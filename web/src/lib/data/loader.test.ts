import { describe, expect, it } from 'vitest';
import { Loader } from './loader.svelte';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('Loader', () => {
  it('holds the data, then clears loading', async () => {
    const l = new Loader(async () => [1, 2]);
    expect(l.loading).toBe(true);
    expect(l.data).toBeNull();
    await l.load();
    expect(l.data).toEqual([1, 2]);
    expect(l.loading).toBe(false);
    expect(l.error).toBeNull();
  });

  it('keeps the error and the previous data', async () => {
    let fail = false;
    const l = new Loader(async () => {
      if (fail) throw new Error('boom');
      return 'first';
    });
    await l.load();
    fail = true;
    await l.load();
    expect(l.error).toBeInstanceOf(Error);
    expect(l.data).toBe('first');
    expect(l.loading).toBe(false);
  });

  it('drops an older answer that arrives after a newer one', async () => {
    const answers = [deferred<string>(), deferred<string>()];
    let call = 0;
    const l = new Loader(() => answers[call++].promise);
    const older = l.load();
    const newer = l.load();
    answers[1].resolve('project B');
    await newer;
    answers[0].resolve('project A');
    await older;
    expect(l.data).toBe('project B');
    expect(l.loading).toBe(false);
  });

  it('ignores the failure of a superseded load', async () => {
    const answers = [deferred<string>(), deferred<string>()];
    let call = 0;
    const l = new Loader(() => answers[call++].promise);
    const older = l.load();
    const newer = l.load();
    answers[1].resolve('ok');
    await newer;
    answers[0].reject(new Error('late'));
    await older;
    expect(l.error).toBeNull();
    expect(l.data).toBe('ok');
  });
});
