/**
 * A jobs child stopped (or its tree restarted) while its runner boots. `JobRunner.start` awaits
 * a store commit (start-up reconciliation) before it claims, so a stop can land in `starting`:
 * the runner the boot resolves with afterwards must never run — no poll, lifeline or claim timer,
 * no claims under the runner id the child's next incarnation takes.
 *
 * On the virtual clock, over a memory disk.
 */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { defineWorker, jobRunnerMachine, jobTables } from '../../src/jobs/index.ts';
import { openStore } from '../../src/store/index.ts';
import { createMemoryKv } from '../../src/chaos/index.ts';
import { buildJob } from '../../src/jobs/buildJob.ts';
import { insertMany } from '../../src/jobs/engine.ts';
import { countJobs } from '../../src/jobs/tables.ts';
import { effectTables, run, testEnv } from './helpers.ts';

describe('a job runner child stopped while it boots', () => {
  it('leaves no runner (poll, lifeline, claims) behind once its machine has stopped', async () => {
    const env = testEnv(5);
    const store = await openStore({ env, dir: '/boot-stop', kv: createMemoryKv(), tables: { ...jobTables(), ...effectTables } });
    let performs = 0;
    const w = defineWorker<{ n: number }>({ name: 'w', perform: () => void performs++ });
    const config = { workers: [w], queues: { default: 2 }, pruner: false, pollMs: 100 } as const;
    await run(env, 100, 10);
    const base = env.clock.pending(); // the store's own timers
    const actor = createActor(jobRunnerMachine, { input: { env, store, config }, clock: env.clock as never });
    actor.start();
    actor.send({ type: 'ordo.stop' });
    expect(actor.getSnapshot().status).toBe('done');
    await run(env, 100, 10);
    expect(env.clock.pending()).toBe(base);
    // and it claims nothing: a job inserted now stays available
    await insertMany(store, [{ job: buildJob(w as never, { n: 1 }, { queue: 'default' }, env.clock.now(), () => env.random.next()), unique: undefined, now: env.clock.now() }]);
    expect(countJobs(store, ['default']).default?.available).toBe(1);
    await run(env, 1000, 50);
    expect(performs).toBe(0);
  });
});
