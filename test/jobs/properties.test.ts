/**
 * Property: over random sequences of enqueues, time, crashes (`kill -9`: the process vanishes,
 * nothing more is written) and graceful stops, (1) no queue ever runs more performs at once
 * than its limit, and (2) in the end every acknowledged job has reached exactly one final
 * state, with its transactional effect applied exactly once iff it completed — checked against
 * a model of what each job must end as.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { JobRunner, defineWorker, FINAL_STATES, type JobRunnerConfig } from '../../src/jobs/index.ts';
import type { Store } from '../../src/store/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

interface Spec {
  readonly failTimes: number;
  readonly maxAttempts: number;
  readonly durationMs: number;
  readonly queue: 'a' | 'b';
}
type Cmd = { t: 'enqueue'; jobs: Spec[] } | { t: 'advance'; ms: number } | { t: 'crash' } | { t: 'stop' };

const spec = fc.record({
  failTimes: fc.integer({ min: 0, max: 3 }),
  maxAttempts: fc.integer({ min: 1, max: 4 }),
  durationMs: fc.integer({ min: 0, max: 4000 }),
  queue: fc.constantFrom('a' as const, 'b' as const),
});
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.array(spec, { minLength: 1, maxLength: 6 }).map((jobs) => ({ t: 'enqueue' as const, jobs })) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6000 }).map((ms) => ({ t: 'advance' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ t: 'crash' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'stop' as const }) },
);
const LIMITS = { a: 2, b: 3 } as const;

async function scenario(cmds: Cmd[], seed: number, eagerClaim: boolean): Promise<void> {
  const env = testEnv(seed);
  const disk = faultyDisk();
  let gen = 0;
  const active = new Map<string, number>(); // `${gen}:${queue}` → performs running
  let maxSeen = { a: 0, b: 0 };
  const specs = new Map<string, Spec>();
  const worker = defineWorker<{ spec: Spec }>({
    name: 'w',
    queue: 'a',
    backoff: (job) => 1000 * job.attempt,
    perform: async ({ spec: s }, { job, signal }) => {
      const key = `${gen}:${job.queue}`;
      const mine = gen;
      const n = (active.get(key) ?? 0) + 1;
      active.set(key, n);
      const q = job.queue as 'a' | 'b';
      maxSeen = { ...maxSeen, [q]: Math.max(maxSeen[q], n) };
      try {
        await new Promise<void>((resolve, reject) => {
          const t = env.clock.setTimeout(() => resolve(), s.durationMs);
          signal.addEventListener('abort', () => {
            env.clock.clearTimeout(t);
            reject(signal.reason);
          });
        });
      } finally {
        if (gen === mine) active.set(key, active.get(key)! - 1);
      }
      if (job.attempt <= s.failTimes) throw new Error(`planned failure ${job.attempt}`);
      return { ok: true, effects: (tx) => {
        const cur = tx.get('effects', job.id);
        tx.put('effects', { id: job.id, n: ((cur?.['n'] as number) ?? 0) + 1 });
      } };
    },
  });
  const config: JobRunnerConfig = { workers: [worker], queues: LIMITS, pruner: false, shutdownMs: 1500, lifeline: { intervalMs: 2000 }, eagerClaim };
  let store: Store = await openJobStore(env, disk);
  let runner = await JobRunner.start({ env, store, config });
  let crashes = 0;
  for (const c of cmds) {
    if (c.t === 'enqueue') {
      for (const s of c.jobs) {
        const { job } = await runner.enqueue(worker, { spec: s }, { queue: s.queue, maxAttempts: s.maxAttempts });
        specs.set(job.id, s);
      }
    } else if (c.t === 'advance') await run(env, c.ms, 250);
    else {
      if (c.t === 'crash') {
        crashes++;
        runner.halt();
        gen++; // the dead process's performs no longer count
        disk.failing = true; // nothing more reaches the disk from the dead process
        await store.close().catch(() => undefined);
        disk.failing = false;
      } else {
        await settle(env, runner.stop());
        gen++;
        await store.close();
      }
      store = await openJobStore(env, disk);
      runner = await JobRunner.start({ env, store, config });
    }
  }
  // let every retry, rescue and backoff play out
  await run(env, 120_000, 500);
  expect(maxSeen.a).toBeLessThanOrEqual(LIMITS.a);
  expect(maxSeen.b).toBeLessThanOrEqual(LIMITS.b);
  for (const [id, s] of specs) {
    const j = runner.get(id);
    expect(j, `job ${id} lost`).toBeDefined();
    expect(FINAL_STATES).toContain(j!.state);
    const effect = store.get('effects', id)?.['n'];
    if (j!.state === 'completed') expect(effect).toBe(1);
    else expect(effect).toBeUndefined();
    // the model: a graceful stop gives the attempt back, a crash spends it
    if (crashes === 0) expect(j!.state).toBe(s.failTimes < s.maxAttempts ? 'completed' : 'discarded');
    if (j!.state === 'discarded') expect(j!.attempt).toBe(s.maxAttempts);
    if (j!.state === 'completed') expect(j!.attempt).toBeGreaterThan(s.failTimes);
  }
  await settle(env, runner.stop());
  await store.close();
}

describe('job runner properties (virtual clock)', () => {
  it('limits hold and every job reaches exactly one final state, effects exactly once', async () => {
    await fc.assert(
      // eager claims (an idle queue's enqueue stored already claimed) and claims alone, both exercised
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 1000 }), fc.boolean(), (cmds, seed, eager) => scenario(cmds, seed, eager)),
      { numRuns: 60 },
    );
  }, 240_000);
});
