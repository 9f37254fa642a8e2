import type { AnyActorRef } from 'xstate';
import type { Clock, TimerHandle } from '../env/clock.ts';

/** What of xstate's actor system this module reads and replaces (xstate 5's `createSystem`). */
interface XstateSystem {
  scheduler: {
    schedule(source: AnyActorRef, target: AnyActorRef, event: unknown, delay: number, id?: string): void;
    cancel(source: AnyActorRef, id: string): void;
    cancelAll(actorRef: AnyActorRef): void;
  };
  _relay(source: AnyActorRef, target: AnyActorRef, event: unknown): void;
  _snapshot: { _scheduledEvents: Record<string, unknown> };
  getSnapshot(): { _scheduledEvents: Record<string, unknown> };
}

interface Scheduled {
  readonly source: AnyActorRef;
  readonly target: AnyActorRef;
  readonly event: unknown;
  readonly delay: number;
  readonly id: string;
  readonly startedAt: number;
  readonly handle: TimerHandle;
}

function isXstateSystem(x: unknown): x is XstateSystem {
  const s = x as Partial<XstateSystem> | undefined;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.scheduler?.schedule === 'function' &&
    typeof s.scheduler.cancel === 'function' &&
    typeof s.scheduler.cancelAll === 'function' &&
    typeof s._relay === 'function' &&
    typeof s._snapshot?._scheduledEvents === 'object' &&
    typeof s.getSnapshot === 'function'
  );
}

/**
 * @internal Gives a new (not yet started) actor's system a scheduler for delayed events on
 * the Env's clock, with xstate 5's semantics (`createSystem`'s scheduler: one timer per
 * `sessionId.id`; a second schedule of the same key leaves the first timer armed and its
 * firing forgets the key; cancel clears; `cancelAll` cancels every event the actor sent) but
 * without its two costs on every delayed transition: a `Date.now()` read for a `startedAt`
 * xstate never reads (an ambient wall-clock use — in simulation the determinism guard captures
 * a stack for each), and two plain objects keyed by a fresh string each time (a new hidden
 * class per key). The system's `getSnapshot()` still lists the scheduled events. An actor
 * whose system does not have the expected shape (another xstate) keeps its own scheduler.
 */
export function useEnvScheduler(actor: AnyActorRef, clock: Clock): void {
  const system = (actor as unknown as { system?: unknown }).system;
  if (!isXstateSystem(system)) return;
  const scheduled = new Map<string, Scheduled>();
  let nextId = 0;
  const cancel = (source: AnyActorRef, id: string): void => {
    const key = `${source.sessionId}.${id}`;
    const s = scheduled.get(key);
    scheduled.delete(key);
    if (s !== undefined) clock.clearTimeout(s.handle);
  };
  system.scheduler = {
    schedule(source, target, event, delay, id = `ordo.${++nextId}`) {
      const key = `${source.sessionId}.${id}`;
      const handle = clock.setTimeout(() => {
        scheduled.delete(key);
        system._relay(source, target, event);
      }, delay);
      scheduled.set(key, { source, target, event, delay, id, startedAt: clock.now(), handle });
    },
    cancel,
    cancelAll(actorRef) {
      for (const s of scheduled.values()) if (s.source === actorRef) cancel(actorRef, s.id); // deleting while iterating a Map is safe
    },
  };
  system.getSnapshot = () => {
    const events: Record<string, unknown> = {};
    for (const [key, s] of scheduled) events[key] = { source: s.source, target: s.target, event: s.event, delay: s.delay, id: s.id, startedAt: s.startedAt };
    return { _scheduledEvents: events };
  };
}
