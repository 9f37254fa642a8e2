import { createMemoryKv } from '../../src/chaos/memoryKv.ts';
import { KvError } from '../../src/env/kv.ts';
import { wrapKvWrites } from '../store/kvWrap.ts';

/**
 * A memory disk whose next write can be refused as the real adapter refuses a synced batch
 * after its WAL write: `committed` — written, then refused with `durable: true` (the marker
 * failed; later writes succeed: the disk has room again); `unknown-landed` / `unknown-lost` —
 * written or not, refused with `durable: 'unknown'`, and every later write of that handle is
 * refused (a dead sync writer) until the database is opened again.
 */
export type Refusal = 'committed' | 'unknown-landed' | 'unknown-lost';
export function refusingDisk() {
  const inner = createMemoryKv();
  const ctl = { next: undefined as Refusal | undefined, refused: 0 };
  const kv = wrapKvWrites(inner, (db, dir) => {
    let dead = false;
    return async (ops, wo) => {
      if (dead) throw new KvError('io', 'sync writer exited (simulated)', dir);
      const refusal = ctl.next;
      if (refusal === undefined) return db.write(ops, wo);
      ctl.next = undefined;
      ctl.refused++;
      if (refusal !== 'unknown-lost') await db.write(ops, wo);
      if (refusal === 'committed') throw new KvError('nospace', 'ENOSPC: marker write failed (simulated)', dir, { durable: true });
      dead = true;
      throw new KvError('io', 'sync writer exited with the batch in flight (simulated)', dir, { durable: 'unknown' });
    };
  });
  return { kv, ctl };
}

