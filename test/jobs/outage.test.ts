import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { JobsStoreError, defineWorker, jobRunnerChild, jobRunnerMachine, JobsUnknownModuleError, JobsConfigError, type JobRunner } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, settle, testEnv } from './helpers.ts';

describe('a store outage', () => {
  it('makes the runner degraded (a substate, not a crash), then it recovers and nothing is lost', async () => {
    const env = testEnv(11);
    const disk = faultyDisk();
    const store = await openJobStore(env, disk);
    const w = defineWorker<{ i: number }>({
      name: 'slow',
      perform: async ({ i }, { job }) => {
        await new Promise<void>((r) => env.clock.setTimeout(() => r(), 500 + (i % 5) * 300));
        return { ok: true, effects: (tx) => {
          const cur = tx.get('effects', job.id);
          tx.put('effects', { id: job.id, n: ((cur?.['n'] as number) ?? 0) + 1 });
        } };
      },
    });
    const actor = createActor(jobRunnerMachine, { input: { env, store, config: { workers: [w], queues: { default: 4 }, pruner: false } }, clock: env.clock });
    actor.start();
    await run(env, 50);
    expect(actor.getSnapshot().hasTag('ready')).toBe(true);
    const runner = actor.getSnapshot().context.service as JobRunner;
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await runner.enqueue(w, { i })).job.id);
    await run(env, 700, 50);

    disk.failing = true;
    // an enqueue during the outage is refused with a typed error (nothing half-stored)
    await expect(runner.enqueue(w, { i: 99 })).rejects.toBeInstanceOf(JobsStoreError);
    await run(env, 20_000, 100);
    const snap = actor.getSnapshot();
    expect(snap.status).toBe('active');
    expect(snap.hasTag('degraded')).toBe(true);
    expect(snap.hasTag('ready')).toBe(true);
    expect(runner.health().status).toBe('degraded');
    expect(runner.health().lastStoreError?.code).toMatch(/^ORDO_STORE_(IO|FAILED)$/);

    disk.failing = false;
    await run(env, 60_000, 100);
    expect(actor.getSnapshot().hasTag('degraded')).toBe(false);
    expect(runner.health().status).toBe('ok');
    for (const id of ids) {
      expect(runner.get(id)?.state).toBe('completed');
      expect(store.get('effects', id)?.['n']).toBe(1);
    }
    actor.send({ type: 'ordo.stop' });
    await settle(env, new Promise<void>((r) => actor.subscribe({ complete: () => r() })));
    expect(actor.getSnapshot().output).toEqual({ reason: 'shutdown' });
    await store.close();
  });
});

describe('options validated at spec time', () => {
  const w = defineWorker<Record<string, never>>({ name: 'w', perform: () => undefined });
  it('refuses an unknown notifier or peer module by name, before anything boots', () => {
    const bad = (config: object) => () => jobRunnerChild({ config: { workers: [w], queues: { default: 1 }, ...config } as never });
    expect(bad({ notifier: 'postgres' })).toThrow(JobsUnknownModuleError);
    expect(bad({ notifier: 'postgres' })).toThrow(/unknown notifier "postgres": expected one of auto, nats, local/);
    try {
      bad({ peer: 'Oban.Peers.PG' })();
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(JobsUnknownModuleError);
      expect((e as JobsUnknownModuleError).code).toBe('ORDO_JOBS_UNKNOWN_MODULE');
      expect((e as JobsUnknownModuleError).value).toBe('Oban.Peers.PG');
    }
  });
  it('refuses unknown options, workers without their queue, bad cron lines and zones', () => {
    const child = (config: object) => () => jobRunnerChild({ config: config as never });
    expect(child({ workers: [w], queues: { default: 1 }, plugins: [] })).toThrow(JobsConfigError);
    expect(child({ workers: [w], queues: { other: 1 } })).toThrow(/worker w.queue: no such queue/);
    expect(child({ workers: [w], queues: { default: 0 } })).toThrow(/limit/);
    expect(child({ workers: [w], queues: { default: 1 }, crontab: [{ expression: '@fortnightly', worker: w, args: {} }] })).toThrow(/cron/);
    expect(child({ workers: [w], queues: { default: 1 }, crontab: [{ expression: '@daily', timezone: 'Europe/Atlantis', worker: w, args: {} }] })).toThrow(/time zone/);
    expect(child({ workers: [w], queues: { default: 1 }, crontab: [{ expression: '@daily', timezone: 'Europe/Paris', worker: w, args: {} }] })).not.toThrow();
  });
});
