import { describe, expect, it } from 'vitest';
import { JobRunner, defineWorker, obanBackoff } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv, T0, type FaultyDisk } from './helpers.ts';
import { wrapKvWrites } from '../store/kvWrap.ts';

/** `inner` whose writes, once {@link holdAfter}(n) let n more through, wait until `release()` (then go in order). */
function holdingDisk(inner: FaultyDisk) {
  const waiting: Array<() => void> = [];
  let pass = Infinity;
  const kv = wrapKvWrites(inner.kv, (db) => (ops, wo) => {
    if (pass > 0) {
      pass--;
      return db.write(ops, wo);
    }
    return new Promise<void>((r) => waiting.push(r)).then(() => db.write(ops, wo));
  });
  return {
    disk: { kv, failing: false } as FaultyDisk,
    holdAfter: (n: number): void => void (pass = n),
    waiting: (): number => waiting.length,
    release(): void {
      pass = Infinity;
      for (const w of waiting.splice(0)) w();
    },
  };
}

describe('job runner basics (virtual clock, simulated disk)', () => {
  it('runs an enqueued job to completed and writes its effects in the completing transaction', async () => {
    const env = testEnv();
    const store = await openJobStore(env, faultyDisk());
    const seen: string[] = [];
    const w = defineWorker<{ id: string }>({
      name: 'w',
      perform: (args) => {
        seen.push(args.id);
        return { ok: true, effects: (tx) => void tx.put('effects', { id: args.id, n: 1 }) };
      },
    });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 2 } } });
    const { job, conflict } = await runner.enqueue(w, { id: 'a' });
    expect(conflict).toBe(false);
    await run(env, 50);
    expect(seen).toEqual(['a']);
    expect(runner.get(job.id)?.state).toBe('completed');
    expect(store.get('effects', 'a')).toMatchObject({ n: 1 });
    await runner.stop();
    await store.close();
  });

  it('retries a failing job at Oban backoff times, then discards it after maxAttempts', async () => {
    const env = testEnv(7);
    const store = await openJobStore(env, faultyDisk());
    const attempts: number[] = [];
    const w = defineWorker<Record<string, never>>({ name: 'fail', maxAttempts: 3, perform: () => { attempts.push(env.clock.now()); throw new Error('boom'); } });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: false } });
    const { job } = await runner.enqueue(w, {});
    await run(env, 200_000, 100);
    expect(attempts.length).toBe(3);
    const j = runner.get(job.id)!;
    expect(j.state).toBe('discarded');
    expect(j.errors.map((e) => e.attempt)).toEqual([1, 2, 3]);
    // gaps: 15 + 2^n seconds plus at most 10 % (and the stager's wake-up granularity: none — it wakes at the due time)
    const gaps = [attempts[1]! - attempts[0]!, attempts[2]! - attempts[1]!];
    expect(gaps[0]).toBeGreaterThanOrEqual(17_000);
    expect(gaps[0]).toBeLessThan(17_000 * 1.1 + 200);
    expect(gaps[1]).toBeGreaterThanOrEqual(19_000);
    expect(gaps[1]).toBeLessThan(19_000 * 1.1 + 200);
    expect(attempts[0]).toBeLessThan(T0 + 100);
    await runner.stop();
    await store.close();
  });

  it('obanBackoff follows Oban.Worker.backoff/1', () => {
    expect(obanBackoff(1, 20, () => 0)).toBe(17_000);
    expect(obanBackoff(5, 20, () => 0)).toBe(47_000);
    expect(obanBackoff(5, 20, () => 0.999)).toBe(51_000);
    expect(obanBackoff(50, 100, () => 0)).toBe((2 ** 10 + 15) * 1000);
  });

  it('a stop while a claim is in flight gives the claimed jobs back with their attempt (regression: they were orphaned, then discarded)', async () => {
    const env = testEnv(2);
    const held = holdingDisk(faultyDisk());
    const disk = held.disk;
    let store = await openJobStore(env, disk);
    const w = defineWorker<Record<string, never>>({ name: 'once', maxAttempts: 1, perform: () => undefined });
    const config = { workers: [w], queues: { default: 2 }, pruner: false as const };
    let runner = await JobRunner.start({ env, store, config });
    // paused, the insert does not claim the job itself; resuming starts a claim, and the stop comes
    // while it is in flight: every write after the resume's own is held until the stop has begun
    // (not left to microtask timing: the group commit issues a write earlier since issue 10)
    await runner.pause('default');
    const { job } = await runner.enqueue(w, {});
    held.holdAfter(1);
    await runner.resume('default');
    await run(env, 10);
    expect(held.waiting()).toBeGreaterThan(0); // the claim's write is in flight
    const stopped = runner.stop();
    await run(env, 10);
    held.release();
    await settle(env, stopped);
    expect(runner.get(job.id)).toMatchObject({ state: 'available', attempt: 0 });
    await store.close();
    store = await openJobStore(env, disk);
    runner = await JobRunner.start({ env, store, config });
    await run(env, 100);
    expect(runner.get(job.id)).toMatchObject({ state: 'completed', attempt: 1 });
    await settle(env, runner.stop());
    await store.close();
  });

  it('a job enqueued where its queue has a free slot is stored claimed (one commit) and starts; a stop right after never orphans it', async () => {
    const env = testEnv(4);
    const disk = faultyDisk();
    const store = await openJobStore(env, disk);
    const started: string[] = [];
    const w = defineWorker<{ n: number }>({ name: 'w', maxAttempts: 1, perform: (_a, { job }) => void started.push(job.id) });
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 2 }, pruner: false } });
    let commits = 0;
    const off = store.onCommit(() => void commits++);
    // one turn's enqueues: one transaction; the two best (priority) are claimed in it, the third waits
    const [a, b, c] = await Promise.all([runner.enqueue(w, { n: 0 }, { priority: 5 }), runner.enqueue(w, { n: 1 }, { priority: 1 }), runner.enqueue(w, { n: 2 }, { priority: 0 })]);
    expect(commits).toBe(1);
    off();
    expect([a!.job.state, b!.job.state, c!.job.state]).toEqual(['available', 'executing', 'executing']);
    expect(b!.job).toMatchObject({ attempt: 1, attemptedBy: runner.node });
    await settle(env, runner.stop());
    for (const r of [a!, b!, c!]) expect(['completed', 'available']).toContain(runner.get(r.job.id)!.state);
    expect(runner.get(a!.job.id)!.attempt).toBe(runner.get(a!.job.id)!.state === 'completed' ? 1 : 0);
    await store.close();
  });
});
