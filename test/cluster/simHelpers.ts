/**
 * Cluster tests on virtual time: a {@link Simulation} with a simulated NATS server
 * (src/chaos/simNats.ts) behind `env.io.nats`. Nothing here waits on the wall clock: the
 * simulation is stepped until a condition holds, or a virtual deadline passes.
 */
import { createActor, type Actor, type AnyStateMachine } from 'xstate';
import type { Env } from '../../src/env/env.ts';
import { Simulation } from '../../src/chaos/simulation.ts';
import { SimNats, type SimNatsOptions } from '../../src/chaos/simNats.ts';

/** The URL nodes are configured with (the simulated connector ignores it). */
export const SIM_URL = 'nats://sim.invalid:4222';

/** A simulated NATS, an Env on it, and ways to move virtual time. */
export interface SimCluster {
  readonly sim: Simulation;
  readonly nats: SimNats;
  readonly env: Env;
  /** Log records (with virtual `t`). */
  readonly records: Array<Record<string, unknown>>;
  /** Steps the simulation until `cond()` holds; throws after `maxMs` virtual ms. Returns the virtual time it took. */
  until(cond: () => boolean, what: string, maxMs?: number): Promise<number>;
  /** Steps the simulation until `p` settles (virtual `maxMs` at most); returns its value or throws its error. */
  settle<T>(p: Promise<T>, maxMs?: number): Promise<T>;
  /** Lets `ms` virtual ms pass. */
  advance(ms: number): Promise<void>;
  /** Starts a machine as a root actor on the virtual clock (as the kernel does). */
  start<M extends AnyStateMachine>(machine: M, input: unknown, env?: Env): Actor<M>;
  /** Sends `ordo.stop` and steps until the actor is final; returns its output. */
  stop(actor: Actor<AnyStateMachine>, maxMs?: number): Promise<unknown>;
  /** Steps until the actor's snapshot has `tag`. */
  tag(actor: Actor<AnyStateMachine>, tag: string, maxMs?: number): Promise<number>;
}

/** Builds a {@link SimCluster} for `seed`. */
export function simCluster(seed = 1, options: SimNatsOptions = {}): SimCluster {
  const sim = new Simulation({ seed });
  const nats = new SimNats(sim, options);
  const env = sim.createEnv({ nats: nats.connector() });
  const until = async (cond: () => boolean, what: string, maxMs = 30_000): Promise<number> => {
    const t0 = sim.now;
    const end = sim.now + maxMs;
    await sim.flush();
    while (!cond()) {
      if (sim.now >= end) throw new Error(`not within ${maxMs} virtual ms: ${what}`);
      await sim.run(sim.now + 1);
    }
    return sim.now - t0;
  };
  const settle = async <T>(p: Promise<T>, maxMs = 30_000): Promise<T> => {
    let done = false;
    const r = p.then(
      (v) => ((done = true), { ok: true as const, v }),
      (e: unknown) => ((done = true), { ok: false as const, e }),
    );
    await until(() => done, 'promise settled', maxMs);
    const x = await r;
    if (!x.ok) throw x.e;
    return x.v;
  };
  const start = <M extends AnyStateMachine>(machine: M, input: unknown, e: Env = env): Actor<M> => {
    const a = createActor(machine, { input, clock: e.clock } as never) as Actor<M>;
    a.start();
    return a;
  };
  return {
    sim,
    nats,
    env,
    records: sim.logs as unknown as Array<Record<string, unknown>>,
    until,
    settle,
    advance: async (ms) => void (await sim.run(sim.now + ms)),
    start,
    async stop(actor, maxMs = 30_000) {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'ordo.stop', reason: 'shutdown' });
      await until(() => actor.getSnapshot().status !== 'active', 'final state', maxMs);
      return actor.getSnapshot().output;
    },
    tag: (actor, tag, maxMs) => until(() => actor.getSnapshot().hasTag(tag), `tag ${tag}`, maxMs),
  };
}
