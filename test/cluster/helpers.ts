import { createActor, type AnyStateMachine, type Actor } from 'xstate';
import { createRealClock } from '../../src/env/clock.ts';
import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import { waitFor } from '../harness/nats.ts';

/** A test Env on the real clock: cluster tests talk to a real nats-server in real time. */
export function realTimeEnv(seed = 1): TestEnv {
  const env = createTestEnv({ seed, level: 'debug' });
  return { ...env, clock: createRealClock() as TestEnv['clock'] };
}

/** Starts a machine as a root actor on `env.clock`, as Ordo's kernel does. */
export function startChild<M extends AnyStateMachine>(machine: M, input: unknown, env: TestEnv): Actor<M> {
  const actor = createActor(machine, { input, clock: env.clock } as never) as Actor<M>;
  actor.start();
  return actor;
}

/** Waits until the actor's snapshot has `tag`. */
export function waitTag(actor: Actor<AnyStateMachine>, tag: string, timeoutMs = 10_000): Promise<boolean> {
  return waitFor(() => actor.getSnapshot().hasTag(tag), `tag ${tag}`, timeoutMs);
}

/** Sends `ordo.stop` and waits for the final state. */
export async function stopChild(actor: Actor<AnyStateMachine>, timeoutMs = 10_000): Promise<unknown> {
  if (actor.getSnapshot().status === 'active') actor.send({ type: 'ordo.stop', reason: 'shutdown' });
  await waitFor(() => actor.getSnapshot().status !== 'active', 'final state', timeoutMs);
  return actor.getSnapshot().output;
}
