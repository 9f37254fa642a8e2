import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.ts';
import type { ReplicatedStore } from '../../src/cluster/replicatedStore.ts';

describe('the real Store satisfies the replication contract', () => {
  it('Store is assignable to ReplicatedStore (checked by tsc), and has every method at runtime', async () => {
    const check = (s: Store): ReplicatedStore => s; // compile-time check
    const { Store: StoreClass } = await import('../../src/store/index.ts');
    for (const m of ['setReplicator', 'applyReplicated', 'lastAppliedSeq', 'snapshot', 'loadSnapshot', 'onCommit', 'deferredMigrations', 'runDeferredMigrations'] as const) {
      expect(typeof StoreClass.prototype[m]).toBe('function');
    }
    expect(typeof check).toBe('function');
  });
});
