/**
 * A runner that dies (`kill -9`) holding a global-limit slot: its entry in the queue's slots row
 * stays until the leader's lifeline drops it with the runner's jobs. The lifeline waits
 * `graceMs` after it first sees the runner gone from membership (membership can drop a node
 * that still runs — a partition, a late heartbeat — and releasing its slots while its performs
 * run would exceed the limit), but it must see it as soon as membership says so: the leader's
 * lifeline runs on `nodedown`, not only on its next interval (up to `intervalMs` later, the
 * queue short of a slot meanwhile). Real RocksDB, virtual clock, two runners on one store.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterService, MemberInfo, MembershipEvents } from '../../src/cluster/index.ts';
import { JobRunner, defineWorker, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { slotsTaken } from '../../src/jobs/slots.ts';
import { fakeLeadership, testEnv } from './helpers.ts';
import { rocksJobStore, runReal, settleReal } from './rocksDisk.ts';

/** Nodes sharing one membership the test edits; `down(name)` drops one and tells every node (`nodedown`). */
function sharedMembership() {
  const live = new Map<string, string>();
  const listeners = new Set<MembershipEvents['nodedown']>();
  const members = (): MemberInfo[] => [...live].map(([name, incarnation]) => ({ name, incarnation, heartbeatAt: 0, startedAt: 0 }));
  return {
    node(self: string, incarnation: string): ClusterService {
      live.set(self, incarnation);
      return {
        self, incarnation, cluster: 'test', connection: undefined, members,
        on: (<E extends keyof MembershipEvents>(e: E, l: MembershipEvents[E]) => {
          if (e !== 'nodedown') return () => undefined;
          listeners.add(l as MembershipEvents['nodedown']);
          return () => void listeners.delete(l as MembershipEvents['nodedown']);
        }) as ClusterService['on'],
        health: () => ({ status: 'ok', mode: 'single', node: self, members: members().map((m) => m.name) }),
      };
    },
    down(name: string): void {
      const m = members().find((x) => x.name === name)!;
      live.delete(name);
      for (const l of listeners) l(m, 'timeout');
    },
  };
}

describe('a dead runner’s global slot', () => {
  it('is dropped graceMs after membership says the node is down, not at the lifeline’s next interval', async () => {
    const env = testEnv(331);
    const s = await rocksJobStore(env, 'dead-runner-slots');
    const m = sharedMembership();
    const w = defineWorker<{ n: number }>({ name: 'w', perform: (_a, { signal }) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason))) });
    const base: JobRunnerConfig = { workers: [w], queues: { default: { limit: 1, globalLimit: 1 } }, pruner: false, lifeline: { intervalMs: 60_000, graceMs: 5_000 } };
    // a leads and does not claim (its queue paused); b claims
    const a = await JobRunner.start({ env, store: s.store, config: { ...base, queues: { default: { limit: 1, globalLimit: 1, paused: true } } }, cluster: m.node('a', 'a1'), leadership: fakeLeadership('a', true) });
    const b = await JobRunner.start({ env, store: s.store, config: base, cluster: m.node('b', 'b1'), leadership: fakeLeadership('b', false) });
    try {
      const id = (await b.enqueue(w, { n: 1 })).job.id;
      await runReal(env, s.ctl, 2_000, 100);
      expect(b.get(id)).toMatchObject({ state: 'executing', attemptedBy: 'b/b1' });
      expect(slotsTaken(s.store, 'default')).toBe(1);
      // kill -9 of b, and membership drops it at once (its heartbeat expired)
      b.halt();
      m.down('b');
      await runReal(env, s.ctl, 4_000, 100);
      expect(slotsTaken(s.store, 'default'), 'within the grace: kept').toBe(1);
      await runReal(env, s.ctl, 2_000, 100);
      expect(slotsTaken(s.store, 'default'), 'graceMs after nodedown: dropped').toBe(0);
      expect(a.get(id)).toMatchObject({ state: 'available', attemptedBy: null });
    } finally {
      await settleReal(env, s.ctl, a.stop());
      await s.store.close();
      s.dispose();
    }
  });
});
