import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { JobRunner, JobsBoard, defineWorker } from '../../src/jobs/index.ts';
import { faultyDisk, openJobStore, run, testEnv } from './helpers.ts';

// A queue may be named `__proto__` (it matches [A-Za-z0-9_.-]{1,64}), and it runs. Its entry in the
// runner's records keyed by queue name (health().queues, metrics().jobs) must then be an own key —
// an assignment `out['__proto__'] = …` sets the record's prototype instead, and the queue vanishes
// from Object.keys, JSON, /tree and /metrics.
describe('a queue named __proto__ is reported like any other', () => {
  it('appears as an own key in health().queues and metrics().jobs, in their JSON, and in both /metrics renderings', async () => {
    const env = testEnv();
    const store = await openJobStore(env, faultyDisk());
    let ran = 0;
    const w = defineWorker<Record<string, never>>({ name: 'w', queue: '__proto__', perform: () => void ran++ });
    // a computed key: an own property `__proto__` (a literal `__proto__: 2` would set the prototype)
    const queues = { ['__proto__']: 2, other: 1 };
    const runner = await JobRunner.start({ env, store, config: { workers: [w], queues, pruner: false } });
    await runner.enqueue(w, {});
    await run(env, 100);
    expect(ran).toBe(1);

    const h = runner.health();
    expect(Object.keys(h.queues).sort()).toEqual(['__proto__', 'other']);
    expect(Object.getOwnPropertyDescriptor(h.queues, '__proto__')?.value).toEqual({ limit: 2, running: 0, paused: false });
    const json = JSON.parse(JSON.stringify(h)) as { queues: Record<string, unknown> };
    expect(Object.keys(json.queues).sort()).toEqual(['__proto__', 'other']);

    const m = runner.metrics();
    expect(Object.keys(m.jobs).sort()).toEqual(['__proto__', 'other']);
    expect(Object.getOwnPropertyDescriptor(m.jobs, '__proto__')?.value).toEqual({ completed: 1 });
    expect(runner.prometheus()).toContain('ordo_jobs{queue="__proto__",state="completed"} 1');

    const board = new JobsBoard();
    board.track({ context: { service: runner } });
    const src = board.source();
    const tree = JSON.parse(JSON.stringify(src.health())) as { queues: Record<string, unknown>; jobs: Record<string, unknown> };
    expect(Object.keys(tree.queues).sort()).toEqual(['__proto__', 'other']);
    expect(tree.jobs['__proto__']).toEqual({ completed: 1 });
    const registry = new Registry();
    src.metrics(registry);
    const text = await registry.metrics();
    expect(text).toContain('ordo_jobs{queue="__proto__",state="completed"} 1');
    expect(text).toContain('ordo_jobs_running{queue="__proto__"} 0');

    // nothing leaked onto a prototype
    expect(Object.getPrototypeOf(h.queues)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(m.jobs)).toBe(Object.prototype);
    await runner.stop();
    await store.close();
  });
});
