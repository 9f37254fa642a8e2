import { describe, expect, it } from 'vitest';
import { JobsConfigError, defineWorker, validateRunnerConfig, type JobRunnerConfig } from '../../src/jobs/index.ts';

// The runner's configuration is read as own properties only: a key some code set on
// Object.prototype is not configuration, and a field whose getter throws is refused as a
// JobsConfigError naming that field (its cause the thrown error), not a raw Error.

const w = defineWorker<Record<string, never>>({ name: 'w', perform: () => undefined });

/** The outcome of a validation, comparable: the normalized config, or the refusal's code and field. */
function outcome(c: JobRunnerConfig): unknown {
  try {
    const n = validateRunnerConfig(c);
    return { ...n, workers: [...n.workers.keys()], queues: [...n.queues], crons: n.crons.map((x) => x.name) };
  } catch (e) {
    const err = e as { code?: string; field?: string; message?: string };
    return { code: err.code, field: err.field, message: err.message };
  }
}

/** Configs that leave some fields to their defaults, at each level. */
const configs = (): JobRunnerConfig[] => [
  { workers: [w], queues: { default: 1 } },
  { workers: [w], queues: { default: { limit: 2 } }, stager: {}, pruner: {}, lifeline: {} },
  { workers: [w], queues: { default: { limit: 2, paused: false } }, shutdownMs: 10, stager: { limit: 3 }, pruner: { maxAgeMs: 5 }, lifeline: { graceMs: 0 } },
];

/** Values some code might leave on Object.prototype, each a valid value of its field. */
const pollution: Record<string, unknown> = {
  shutdownMs: 7,
  pollMs: 7,
  notifier: 'local',
  peer: 'solo',
  eagerClaim: false,
  adminSocket: '/tmp/polluted.sock',
  crontab: [{ expression: '* * * * *', worker: w, args: {} }],
  stager: { intervalMs: 7 },
  pruner: false,
  lifeline: { rescueAfterMs: false },
  intervalMs: 7,
  limit: 7,
  maxAgeMs: 7,
  graceMs: 7,
  rescueAfterMs: 7,
  paused: true,
  globalLimit: 7,
};

describe('validateRunnerConfig reads own properties only', () => {
  for (const [key, value] of Object.entries(pollution)) {
    it(`Object.prototype.${key} does not change the result`, () => {
      const want = configs().map(outcome);
      const proto = Object.prototype as Record<string, unknown>;
      let got: unknown[];
      try {
        proto[key] = value;
        got = configs().map(outcome);
      } finally {
        delete proto[key];
      }
      expect(got).toEqual(want);
      expect(want[0]).not.toHaveProperty('code');
    });
  }
});

/** A full config with a throwing getter at `path` (dot-separated; none if undefined). */
function withThrowingGetter(path: string | undefined, boom: Error): JobRunnerConfig {
  const c: Record<string, unknown> = {
    workers: [w],
    queues: { default: { limit: 1, paused: false, globalLimit: 2 } },
    crontab: [],
    notifier: 'local',
    peer: 'solo',
    shutdownMs: 1,
    pollMs: 1,
    stager: { intervalMs: 1, limit: 1 },
    pruner: { maxAgeMs: 1, intervalMs: 1, limit: 1 },
    lifeline: { intervalMs: 1, graceMs: 1, rescueAfterMs: 1 },
    adminSocket: '/tmp/a.sock',
    eagerClaim: true,
  };
  if (path === undefined) return c as unknown as JobRunnerConfig;
  const keys = path.split('.');
  let o = c;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  Object.defineProperty(o, keys[keys.length - 1]!, {
    enumerable: true,
    get() {
      throw boom;
    },
  });
  return c as unknown as JobRunnerConfig;
}

const paths = [
  'workers',
  'queues',
  'crontab',
  'notifier',
  'peer',
  'shutdownMs',
  'pollMs',
  'stager',
  'pruner',
  'lifeline',
  'adminSocket',
  'eagerClaim',
  'stager.intervalMs',
  'stager.limit',
  'pruner.maxAgeMs',
  'pruner.intervalMs',
  'pruner.limit',
  'lifeline.intervalMs',
  'lifeline.graceMs',
  'lifeline.rescueAfterMs',
  'queues.default',
  'queues.default.limit',
  'queues.default.paused',
  'queues.default.globalLimit',
];

describe('a field whose getter throws is refused typed, naming the field', () => {
  it('the full config with plain values is valid (the control)', () => {
    const n = validateRunnerConfig(withThrowingGetter(undefined, new Error('unused')));
    expect(n.queues.get('default')).toEqual({ limit: 1, paused: false, globalLimit: 2 });
    expect(n.lifeline).toEqual({ intervalMs: 1, graceMs: 1, rescueAfterMs: 1 });
  });
  for (const path of paths) {
    it(path, () => {
      const boom = new Error(`getter of ${path} throws`);
      let err: unknown;
      try {
        validateRunnerConfig(withThrowingGetter(path, boom));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JobsConfigError);
      expect(err).toMatchObject({ code: 'ORDO_JOBS_CONFIG', field: path, cause: boom });
      expect((err as Error).message).toContain(`getter of ${path} throws`);
    });
  }
  it('an unknown option whose getter throws is refused as unknown, typed', () => {
    const c = { workers: [w], queues: { default: 1 } };
    Object.defineProperty(c, 'shutdownMS', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(() => validateRunnerConfig(c)).toThrow(expect.objectContaining({ code: 'ORDO_JOBS_CONFIG', field: 'shutdownMS' }));
    const q = { default: { limit: 1 } };
    Object.defineProperty(q.default, 'limt', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(() => validateRunnerConfig({ workers: [w], queues: q })).toThrow(expect.objectContaining({ code: 'ORDO_JOBS_CONFIG', field: 'queues.default.limt' }));
  });
});

describe('a plugin section that is not an object of known options is refused, typed', () => {
  const base = { workers: [w], queues: { default: 1 } };
  const bad: [string, Record<string, unknown>, string, unknown][] = [
    ['stager: 5', { stager: 5 }, 'stager', 5],
    ['stager: null', { stager: null }, 'stager', null],
    ['stager: false (only pruner may be false)', { stager: false }, 'stager', false],
    ['lifeline: "10s"', { lifeline: '10s' }, 'lifeline', '10s'],
    ['pruner: []', { pruner: [] }, 'pruner', []],
    ['pruner: true', { pruner: true }, 'pruner', true],
    ['a misspelt stager option', { stager: { intervalMS: 5 } }, 'stager.intervalMS', 5],
    ['a misspelt pruner option', { pruner: { maxAge: 5 } }, 'pruner.maxAge', 5],
    ['a misspelt lifeline option', { lifeline: { grace: 0 } }, 'lifeline.grace', 0],
  ];
  for (const [what, extra, field, value] of bad) {
    it(what, () => {
      let err: unknown;
      try {
        validateRunnerConfig({ ...base, ...extra } as unknown as JobRunnerConfig);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(JobsConfigError);
      expect(err).toMatchObject({ code: 'ORDO_JOBS_CONFIG', field, value });
    });
  }
  it('absent, empty, and pruner: false are accepted (the control)', () => {
    expect(validateRunnerConfig({ ...base }).stager).toEqual({ intervalMs: 1000, limit: 5000 });
    expect(validateRunnerConfig({ ...base, stager: {}, lifeline: {}, pruner: {} }).pruner).toEqual({ maxAgeMs: 60_000, intervalMs: 30_000, limit: 10_000 });
    expect(validateRunnerConfig({ ...base, pruner: false }).pruner).toBeUndefined();
  });
});
