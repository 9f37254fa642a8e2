import { describe, expect, it } from 'vitest';
import { JobRunner, JobsConfigError, defineWorker, validateRunnerConfig, type JobRunnerConfig } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, testEnv } from './helpers.ts';

// A crontab entry is read once, when the runner's configuration is checked: its args and meta are
// refused there if the store could not keep them, its options are checked by building the job it
// will fire, and what fires later is that checked copy — never a getter read again at fire time
// (which used to throw inside the leader's cron round, reported as a store failure) nor a later
// change to the caller's object.

const MIN = 60_000;
const tick = defineWorker<Record<string, unknown>>({ name: 'tick', perform: () => undefined });
const cfg = (entry: Record<string, unknown>): JobRunnerConfig =>
  ({ workers: [tick], queues: { default: 1 }, pruner: false, crontab: [{ name: 'e', expression: '* * * * *', worker: tick, args: {}, ...entry }] }) as unknown as JobRunnerConfig;

function refusal(c: JobRunnerConfig): unknown {
  try {
    validateRunnerConfig(c);
  } catch (e) {
    expect(e).toBeInstanceOf(JobsConfigError);
    return { code: (e as JobsConfigError).code, field: (e as JobsConfigError).field };
  }
  return 'accepted';
}

describe('a crontab entry is checked once, at start', () => {
  it('args the store cannot keep are refused, naming the entry', () => {
    for (const args of [{ n: 1n }, { x: undefined }, { d: new Date(0) }, { z: -0 }, { f: NaN }]) {
      expect(refusal(cfg({ args }))).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'crontab e.args' });
    }
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(refusal(cfg({ args: cyclic }))).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'crontab e.args' });
  });

  it('meta the store cannot keep, and bad options, are refused, naming the entry', () => {
    expect(refusal(cfg({ options: { meta: { at: 1n } } }))).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'crontab e.options.meta' });
    expect(refusal(cfg({ options: { priority: 99 } }))).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'crontab e.options.priority' });
    expect(refusal(cfg({ options: { maxAttempts: 0 } }))).toEqual({ code: 'ORDO_JOBS_CONFIG', field: 'crontab e.options.maxAttempts' });
  });

  it('storable args, meta and options are accepted (the control)', () => {
    expect(refusal(cfg({ args: { s: 'x', n: [1, 2, { k: null }] }, options: { meta: { team: 'a' }, priority: 2, maxAttempts: 3 } }))).toBe('accepted');
  });

  it('what fires is the checked copy: a getter is not read again, a later change is not seen', async () => {
    const env = testEnv(7);
    const store = await openJobStore(env, faultyDisk());
    const seen: unknown[] = [];
    const w = defineWorker<Record<string, unknown>>({ name: 'w', perform: (args, { job }) => void seen.push({ args, meta: job.meta['team'] }) });
    let reads = 0;
    const args = { list: 'all' };
    const meta = { team: 'a' };
    const entry = {
      name: 'e',
      expression: '* * * * *',
      worker: w,
      get args(): Record<string, unknown> {
        reads++;
        if (reads > 1) throw new Error('args read again at fire time');
        return args;
      },
      options: { meta },
    };
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues: { default: 1 }, pruner: false, crontab: [entry] } });
    args.list = 'changed';
    meta.team = 'changed';
    await run(env, 3 * MIN + 1000, 500);
    expect(reads).toBe(1);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const s of seen) expect(s).toEqual({ args: { list: 'all' }, meta: 'a' });
    expect(runner.health().status).toBe('ok');
    await runner.stop();
    await store.close();
  });
});
