import { createActor, type AnyStateMachine, type Actor } from 'xstate';
import { createRealClock } from '../../src/env/clock.ts';
import { createTestEnv, type TestEnv } from '../../src/env/env.ts';
import { HARNESS_WAIT_MS, waitFor } from '../harness/nats.ts';

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

/** Waits until the actor's snapshot has `tag` (the harness's generous deadline: it names a hang, it asserts no speed). */
export function waitTag(actor: Actor<AnyStateMachine>, tag: string, timeoutMs = HARNESS_WAIT_MS): Promise<boolean> {
  return waitFor(() => actor.getSnapshot().hasTag(tag), `tag ${tag}`, timeoutMs);
}

/** Sends `ordo.stop` and waits for the final state. */
export async function stopChild(actor: Actor<AnyStateMachine>, timeoutMs = HARNESS_WAIT_MS): Promise<unknown> {
  if (actor.getSnapshot().status === 'active') actor.send({ type: 'ordo.stop', reason: 'shutdown' });
  await waitFor(() => actor.getSnapshot().status !== 'active', 'final state', timeoutMs);
  return actor.getSnapshot().output;
}

/** A test Env on the real clock whose timers are tracked: {@link TrackedEnv.timersDone} waits for them, not for a fixed time. */
export interface TrackedEnv extends TestEnv {
  /**
   * Resolves once every timer armed so far on this Env that is due at or before `now + withinMs`
   * has fired (its callback and the continuations it queued have run) or been cleared. What a
   * test awaits before asserting that a timeout did *not* fail something: the timer that would
   * have failed it has run — no fixed sleep, and no wait at all when no such timer exists.
   */
  timersDone(withinMs: number): Promise<void>;
}

/** {@link realTimeEnv} with tracked timers. */
export function trackedRealTimeEnv(seed = 1): TrackedEnv {
  const base = realTimeEnv(seed);
  const inner = base.clock;
  const pending = new Map<unknown, number>();
  const waiters = new Set<() => void>();
  // after the callback's own continuations (a rejection reaching its handlers) have run
  const recheck = (): void => void setImmediate(() => {
    for (const w of [...waiters]) w();
  });
  const clock = {
    ...inner,
    setTimeout: (fn: (...args: unknown[]) => void, ms: number) => {
      const h = inner.setTimeout((...args: unknown[]) => {
        pending.delete(h);
        try {
          fn(...args);
        } finally {
          recheck();
        }
      }, ms);
      pending.set(h, inner.now() + Math.max(0, ms));
      return h;
    },
    clearTimeout: (h: Parameters<typeof inner.clearTimeout>[0]) => {
      pending.delete(h);
      inner.clearTimeout(h);
      recheck();
    },
  } as TestEnv['clock'];
  return {
    ...base,
    clock,
    timersDone(withinMs) {
      const by = inner.now() + withinMs;
      const awaited = new Set([...pending].filter(([, due]) => due <= by).map(([h]) => h));
      return new Promise<void>((resolve) => {
        const w = (): void => {
          for (const h of awaited) if (!pending.has(h)) awaited.delete(h);
          if (awaited.size > 0) return;
          waiters.delete(w);
          resolve();
        };
        waiters.add(w);
        w();
      });
    },
  };
}
