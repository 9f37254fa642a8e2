/**
 * Names on `Object.prototype` — `constructor`, `toString`, `__proto__`, `hasOwnProperty` — given
 * where the runner looks a name up: a job's worker, a cron expression (its `@alias` table), a
 * unique key's `keys`. A worker of such a name that is registered runs as any other; one that is
 * not is refused with `ORDO_JOBS_UNKNOWN_WORKER` naming the job and the name — never resolved to
 * an `Object.prototype` function. A cron expression of such a name is a `JobsConfigError`
 * naming it (it read the alias table's prototype: a raw TypeError). A unique key reads only the
 * args' own keys (a key missing from the args is not its prototype's function).
 *
 * Real RocksDB, virtual clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JobRunner, JobsConfigError, defineWorker, parseCron, validateRunnerConfig, type WorkerDef } from '../../src/jobs/index.ts';
import { testEnv } from './helpers.ts';
import { rocksJobStore, runReal, settleReal } from './rocksDisk.ts';

const PROTO_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty'] as const;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('names on Object.prototype', () => {
  it('a job whose worker is not registered under such a name is refused typed (the job id and the name), never run as a prototype function', async () => {
    const env = testEnv(301);
    const s = await rocksJobStore(env, 'proto-worker');
    cleanups.push(() => s.dispose());
    const named = PROTO_NAMES.map((name) => defineWorker<{ n: number }>({ name, maxAttempts: 1, perform: () => undefined }));
    const first = await JobRunner.start({ env, store: s.store, config: { workers: named as WorkerDef<never>[], queues: { default: 4 } } });
    const ids = await Promise.all(named.map(async (w) => (await first.enqueue(w, { n: 1 }, { scheduleIn: 1_000 })).job.id));
    await settleReal(env, s.ctl, first.stop());
    // a runner without them: each job is claimed, and must not resolve its worker through Object.prototype
    const w = defineWorker({ name: 'w', perform: () => undefined });
    const runner = await JobRunner.start({ env, store: s.store, config: { workers: [w], queues: { default: 4 }, stager: { intervalMs: 50 } } });
    cleanups.push(async () => {
      await settleReal(env, s.ctl, runner.stop());
      await s.store.close();
    });
    await runReal(env, s.ctl, 3_000, 50);
    PROTO_NAMES.forEach((name, i) => {
      const job = runner.get(ids[i]!)!;
      expect(job.state, name).toBe('discarded');
      expect(job.errors).toHaveLength(1);
      expect(job.errors[0]!.code, name).toBe('ORDO_JOBS_UNKNOWN_WORKER');
      expect(job.errors[0]!.error).toContain(ids[i]!);
      expect(job.errors[0]!.error).toContain(JSON.stringify(name));
    });
  });

  it('control: workers registered under such names run their own perform', async () => {
    const env = testEnv(302);
    const s = await rocksJobStore(env, 'proto-worker-ok');
    cleanups.push(() => s.dispose());
    const ran: string[] = [];
    const named = PROTO_NAMES.map((name) => defineWorker<{ n: number }>({ name, perform: () => void ran.push(name) }));
    const runner = await JobRunner.start({ env, store: s.store, config: { workers: named as WorkerDef<never>[], queues: { default: 4 } } });
    cleanups.push(async () => {
      await settleReal(env, s.ctl, runner.stop());
      await s.store.close();
    });
    const ids = await Promise.all(named.map(async (w) => (await runner.enqueue(w, { n: 1 })).job.id));
    await runReal(env, s.ctl, 1_000, 50);
    expect(ids.map((id) => runner.get(id)?.state)).toEqual(['completed', 'completed', 'completed', 'completed']);
    expect(ran.sort()).toEqual([...PROTO_NAMES].sort());
  });

  it.each(PROTO_NAMES)('a cron expression %s is a JobsConfigError naming it (not a TypeError from the alias table’s prototype)', (name) => {
    let err: unknown;
    try {
      parseCron(name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JobsConfigError);
    expect(err).toMatchObject({ code: 'ORDO_JOBS_CONFIG', field: 'cron', value: name });
    const w = defineWorker({ name: 'w', perform: () => undefined });
    expect(() => validateRunnerConfig({ workers: [w], queues: { default: 1 }, crontab: [{ expression: name, worker: w, args: {} }] })).toThrow(expect.objectContaining({ code: 'ORDO_JOBS_CONFIG', field: 'cron', value: name }));
  });

  it('a unique key reads the args’ own keys: a key the args lack is not Object.prototype’s function', async () => {
    const env = testEnv(303);
    const s = await rocksJobStore(env, 'proto-unique');
    cleanups.push(() => s.dispose());
    const w = defineWorker<Record<string, unknown>>({ name: 'w', unique: { keys: ['toString'], periodMs: 'infinity' }, perform: () => undefined });
    const runner = await JobRunner.start({ env, store: s.store, config: { workers: [w], queues: { default: 1 } } });
    cleanups.push(async () => {
      await settleReal(env, s.ctl, runner.stop());
      await s.store.close();
    });
    const a = await runner.enqueue(w, { n: 1 }, { scheduleIn: 60_000 });
    // Oban's Map.take(args, keys): {} for the first, {toString: null} for this one — not duplicates
    const b = await runner.enqueue(w, { n: 2, toString: null }, { scheduleIn: 60_000 });
    expect(b.conflict).toBe(false);
    expect(b.job.id).not.toBe(a.job.id);
    // and equal own values are duplicates, as before
    const c = await runner.enqueue(w, { n: 3, toString: null }, { scheduleIn: 60_000 });
    expect(c).toMatchObject({ conflict: true, job: { id: b.job.id } });
  });
});
