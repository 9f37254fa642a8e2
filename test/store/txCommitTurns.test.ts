import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/openStore.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createTestEnv } from '../../src/env/env.ts';
import type { Store } from '../../src/store/store.ts';

// A transaction whose function returns a plain value and writes a local table is queued from
// TxRunner.run itself, without an async function of its own: its caller resumes in the first
// microtask after the commit settles (the 64 writers of a synced group used to wait one more
// turn each, a continuation per transaction in series with both fdatasyncs, issue 13). The
// result, the error and the re-run on conflict are as before.

const tables = { c: { key: 'id', attributes: { id: { type: 'string' as const }, n: { type: 'integer' as const, default: 0 } } } };
let dirs = 0;
const opened = (): Promise<Store> => openStore({ env: createTestEnv({ level: 'silent', seed: 1 }), dir: `/turns${dirs++}`, kv: createMemoryKv(), tables });

/** Microtask turns between the commit's delivery (its onCommit listener) and the caller's continuation. */
async function turnsAfterCommit(s: Store, run: () => Promise<unknown>): Promise<{ turns: number; value: unknown }> {
  let turns = 0;
  let counting = false;
  const off = s.onCommit(() => {
    counting = true;
    const spin = (): void => {
      if (!counting) return;
      turns++;
      queueMicrotask(spin);
    };
    queueMicrotask(spin);
  });
  const value = await run();
  counting = false;
  off();
  return { turns, value };
}

describe('store: the commit of a plain transaction function', () => {
  it('resumes its caller in the first microtask after the commit settles (one-row blind write, and with a result)', async () => {
    const s = await opened();
    expect(await turnsAfterCommit(s, () => s.transaction((tx) => void tx.put('c', { id: 'a', n: 1 })))).toEqual({ turns: 1, value: undefined });
    // one `then` for the result: one turn more than a function returning nothing
    expect(await turnsAfterCommit(s, () => s.transaction((tx) => tx.put('c', { id: 'b', n: 2 })['n']))).toEqual({ turns: 2, value: 2 });
    expect(s.get('c', 'a')?.['n']).toBe(1);
    await s.close();
  });

  it('a throwing function rejects with its error and writes nothing; a conflicting one runs again', async () => {
    const s = await opened();
    await expect(
      s.transaction((tx) => {
        tx.put('c', { id: 'x', n: 1 });
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(s.get('c', 'x')).toBeUndefined();
    await s.dirtyPut('c', { id: 'k', n: 0 });
    let runs = 0;
    // the first run reads k, then a commit changes k before this one is checked: it runs again
    const inc = s.transaction((tx) => {
      runs++;
      const n = tx.get('c', 'k')?.['n'] as number;
      if (runs === 1) void s.dirtyPut('c', { id: 'k', n: n + 10 });
      tx.put('c', { id: 'k', n: n + 1 });
      return runs;
    });
    expect(await inc).toBe(2);
    expect(s.get('c', 'k')?.['n']).toBe(11);
    await s.close();
  });

  it('idle() resolves while a writer commits back to back (its next commit is queued before the flush finishes)', async () => {
    const s = await opened();
    let idle = false;
    let n = 0;
    const writer = (async () => {
      while (!idle && n < 2000) {
        const i = n++;
        await s.transaction((tx) => void tx.put('c', { id: `w${i % 10}`, n: i }));
      }
    })();
    await s.idle();
    idle = true;
    await writer;
    expect(n).toBeLessThan(2000);
    await s.close();
  });
});
