import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openStore } from '../../src/store/openStore.ts';
import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { createTestEnv } from '../../src/env/env.ts';
import { KvError } from '../../src/env/kv.ts';
import { wrapKvWrites } from './kvWrap.ts';

// The group commit issues the next batch's write before it acknowledges the batch just written
// (issue 10): the acknowledged commits' continuations run while the next write is in flight.
// Acks stay strict (a commit settles only once its own write is answered) and in commit order.

interface Gated {
  readonly n: number;
  released: boolean;
  release(outcome: 'ok' | 'fail'): void;
}

/** A memory disk whose writes, once `gate` is on, wait until the test releases them (in order). */
function gatedDisk() {
  const inner = createMemoryKv();
  const writes: Gated[] = [];
  const state = { gate: false };
  const kv = wrapKvWrites(inner, (db, dir) => (ops, wo) => {
    if (!state.gate) return db.write(ops, wo);
    return new Promise<void>((resolve, reject) => {
      const g: Gated = {
        n: writes.length,
        released: false,
        release(outcome) {
          g.released = true;
          if (outcome === 'fail') reject(new KvError('io', 'EIO (simulated)', dir));
          else db.write(ops, wo).then(resolve, reject);
        },
      };
      writes.push(g);
    });
  });
  return { kv, writes, state };
}

const tables = { t: { key: 'id', attributes: { id: { type: 'integer' as const } }, durability: 'sync' as const } };

/** Lets every pending microtask chain run (more hops than the memory disk's `defer`). */
async function settle(): Promise<void> {
  for (let i = 0; i < 200; i++) await Promise.resolve();
}

let dirs = 0;
async function gatedStore() {
  const disk = gatedDisk();
  // a directory of its own: a failed run leaves its store open (and locked)
  const store = await openStore({ env: createTestEnv({ level: 'silent', seed: 1 }), dir: `/gc${dirs++}`, kv: disk.kv, tables });
  disk.state.gate = true;
  return { store, disk };
}

describe('group commit: the next write is issued before the previous batch is acknowledged', () => {
  it("cohort 2's write is in flight when cohort 1's ack continuation runs; cohort 2 acks only after its own write (red before: 1 write issued)", async () => {
    const { store, disk } = await gatedStore();
    const seen: string[] = [];
    const a = store.dirtyPut('t', { id: 1 }).then(() => seen.push(`a acked, writes issued ${disk.writes.length}`));
    await settle();
    expect(disk.writes.length).toBe(1); // cohort 1 (a) is being written
    const b = store.dirtyPut('t', { id: 2 }).then(() => seen.push(`b acked, writes issued ${disk.writes.length}`));
    await settle();
    expect(disk.writes.length).toBe(1); // b waits for the next batch
    disk.writes[0]!.release('ok');
    await settle();
    expect(seen).toEqual(['a acked, writes issued 2']);
    expect(store.get('t', 2)).toBeUndefined(); // b is not applied before its write is answered
    disk.writes[1]!.release('ok');
    await settle();
    expect(seen).toEqual(['a acked, writes issued 2', 'b acked, writes issued 2']);
    await Promise.all([a, b]);
    disk.state.gate = false;
    await store.close();
  });

  it('a refused next write fails exactly its cohort: the acked one stays acked, a later commit goes through (control)', async () => {
    const { store, disk } = await gatedStore();
    const a = store.dirtyPut('t', { id: 1 }).then(() => 'ok', (e: { code?: string }) => e.code);
    await settle();
    const b = store.dirtyPut('t', { id: 2 }).then(() => 'ok', (e: { code?: string }) => e.code);
    await settle();
    disk.writes[0]!.release('ok');
    await settle();
    expect(disk.writes.length).toBe(2);
    disk.writes[1]!.release('fail');
    disk.state.gate = false; // the recovery probe passes: a transient failure
    expect(await a).toBe('ok');
    expect(await b).toBe('ORDO_STORE_IO');
    await store.dirtyPut('t', { id: 3 });
    expect(store.failed).toBeUndefined();
    expect([1, 2, 3].map((id) => store.get('t', id)?.['id'])).toEqual([1, undefined, 3]);
    await store.close();
  });

  it('property: acks are strict and in commit order; a queued cohort is issued before the previous one is acknowledged', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom('commit', 'commit', 'release'), { minLength: 1, maxLength: 40 }), async (steps) => {
        const { store, disk } = await gatedStore();
        /** Per commit: the write holding it (assigned when that write was issued). */
        const inWrite: Array<number | undefined> = [];
        const acked: number[] = [];
        const problems: string[] = [];
        const firstAckWrites = new Map<number, number>();
        let assigned = 0;
        let seenWrites = 0;
        const assign = (): void => {
          // a write takes every commit queued when it is issued (at most one is issued per step)
          if (disk.writes.length === seenWrites) return;
          if (disk.writes.length > seenWrites + 1) problems.push(`${disk.writes.length - seenWrites} writes issued in one step`);
          seenWrites = disk.writes.length;
          for (; assigned < inWrite.length; assigned++) inWrite[assigned] = seenWrites - 1;
        };
        let released = 0;
        const all: Array<Promise<unknown>> = [];
        const release = async (): Promise<void> => {
          const queued = inWrite.length - assigned;
          const before = disk.writes.length;
          const g = disk.writes[released++]!;
          g.release('ok');
          const ackedBefore = acked.length;
          await settle();
          // the released cohort's acks saw the next write issued if commits were queued
          if (queued > 0 && acked.length > ackedBefore && !(firstAckWrites.get(ackedBefore)! > before)) problems.push(`write ${g.n}: acked before the queued cohort was issued`);
          assign();
        };
        for (const step of steps) {
          if (step === 'commit') {
            const i = inWrite.length;
            inWrite.push(undefined);
            all.push(store.dirtyPut('t', { id: i }).then(() => {
              const w = inWrite[i];
              if (w === undefined || !disk.writes[w]!.released) problems.push(`commit ${i}: acked before its write was answered`);
              firstAckWrites.set(acked.length, disk.writes.length);
              acked.push(i);
            }));
            await settle();
            assign();
          } else if (released < disk.writes.length) await release();
        }
        while (released < disk.writes.length) await release();
        await Promise.all(all);
        expect(problems).toEqual([]);
        expect(acked).toEqual(inWrite.map((_, i) => i)); // every commit, in commit order
        for (let i = 0; i < inWrite.length; i++) expect(store.get('t', i)?.['id']).toBe(i);
        disk.state.gate = false;
        await store.close();
      }),
      { numRuns: 60 },
    );
  });
});
