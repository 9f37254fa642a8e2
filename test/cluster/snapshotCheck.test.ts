import { describe, expect, it } from 'vitest';
import { createTestEnv } from '../../src/env/env.ts';
import { PendingCommits } from '../../src/cluster/commitSettlement.ts';
import { ReplApplier } from '../../src/cluster/replApplier.ts';
import { ReplSnapshots } from '../../src/cluster/replSnapshots.ts';
import type { ClusterConnection } from '../../src/cluster/connection.ts';
import type { SnapshotTransfer } from '../../src/cluster/snapshotTransfer.ts';
import type { ReplicatedStore } from '../../src/cluster/replicatedStore.ts';

// Issue 15, attacking defect 16's fix: a peer snapshot is checked before it is loaded — only
// this replicator's tables and this stream's position — and (found here) a snapshot claiming a
// position past the stream's end is refused: loaded, the node would skip every message up to
// that position once written, for good.

const stream = 'ORDO_REPL_c_main';

function harness(snapshot: { seq: number; data: unknown }, streamLast: number): { snaps: ReplSnapshots; applier: ReplApplier; loaded: unknown[] } {
  const env = createTestEnv({ level: 'silent' });
  const loaded: unknown[] = [];
  const store = {
    loadSnapshot: async (s: unknown) => void loaded.push(s),
    lastAppliedSeq: () => 0,
  } as unknown as ReplicatedStore;
  const log = env.logger;
  const applier = new ReplApplier({ env, store, stream, prefix: 'ordo.repl.c.main', node: 'a', tableSet: new Set(['t']), log, pending: new PendingCommits(), stopped: () => false, onGap: () => undefined, onHalt: () => undefined });
  const blob = new TextEncoder().encode(JSON.stringify(snapshot));
  const conn = { transport: { request: async () => ({ json: () => ({ seq: snapshot.seq, object: 'o', bytes: blob.length }) }) } } as unknown as ClusterConnection;
  const transfer = { download: async () => blob } as unknown as SnapshotTransfer;
  const snaps = new ReplSnapshots({ conn, store, applier, transfer: () => transfer, stream, node: 'a', snapshotSubject: 'ordo.snap.c.main', tables: ['t'], tableSet: new Set(['t']), log, requestTimeoutMs: 1000, streamLast: async () => streamLast });
  return { snaps, applier, loaded };
}

describe('peer snapshots are checked before they are loaded (issue 15)', () => {
  it('a snapshot at or below the stream end loads and moves the position to it', async () => {
    const h = harness({ seq: 40, data: { tables: { t: [] }, applied: { [stream]: 40 } } }, 50);
    await h.snaps.catchUp(30);
    expect(h.loaded).toHaveLength(1);
    expect(h.applier.applied).toBe(40);
  });

  it('a snapshot claiming a position past the stream end (by seq or by its applied position) is refused, never loaded', async () => {
    for (const snapshot of [
      { seq: 1_000, data: { tables: { t: [] }, applied: { [stream]: 40 } } },
      { seq: 40, data: { tables: { t: [] }, applied: { [stream]: 1_000 } } },
    ]) {
      const h = harness(snapshot, 50);
      await expect(h.snaps.catchUp(30)).rejects.toMatchObject({ code: 'ORDO_REPL_SNAPSHOT', seq: 1_000 });
      expect(h.loaded).toEqual([]);
      expect(h.applier.applied).toBe(0);
    }
  });

  it('a snapshot naming a table not replicated here, or lacking one, is refused', async () => {
    for (const tables of [{ t: [], local_secrets: [] }, {}]) {
      const h = harness({ seq: 40, data: { tables, applied: {} } }, 50);
      await expect(h.snaps.catchUp(30)).rejects.toMatchObject({ code: 'ORDO_REPL_SNAPSHOT' });
      expect(h.loaded).toEqual([]);
    }
  });
});
