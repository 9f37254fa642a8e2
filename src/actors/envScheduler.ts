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

/** One system's delayed events (made at its first schedule: most actors never schedule one). */
interface SystemTimers {
  readonly scheduled: Map<string, Scheduled>;
  nextId: number;
}

const timersOf = new WeakMap<object, SystemTimers>();
const schedulers = new WeakMap<Clock, XstateSystem['scheduler']>();

function systemOf(actor: AnyActorRef): XstateSystem {
  return (actor as unknown as { system: XstateSystem }).system;
}

/** The system's timers, made (and its `getSnapshot` pointed at them) at its first schedule. */
function timers(system: XstateSystem): SystemTimers {
  let t = timersOf.get(system);
  if (t === undefined) {
    const scheduled = new Map<string, Scheduled>();
    t = { scheduled, nextId: 0 };
    timersOf.set(system, t);
    system.getSnapshot = () => {
      const events: Record<string, unknown> = {};
      for (const [key, s] of scheduled) events[key] = { source: s.source, target: s.target, event: s.event, delay: s.delay, id: s.id, startedAt: s.startedAt };
      return { _scheduledEvents: events };
    };
  }
  return t;
}

/** One scheduler per clock, shared by every system on it: a spawn allocates nothing for it. */
function schedulerFor(clock: Clock): XstateSystem['scheduler'] {
  let scheduler = schedulers.get(clock);
  if (scheduler !== undefined) return scheduler;
  const cancel = (source: AnyActorRef, id: string): void => {
    const t = timersOf.get(systemOf(source));
    if (t === undefined) return;
    const key = `${source.sessionId}.${id}`;
    const s = t.scheduled.get(key);
    t.scheduled.delete(key);
    if (s !== undefined) clock.clearTimeout(s.handle);
  };
  scheduler = {
    schedule(source, target, event, delay, id) {
      const system = systemOf(source);
      const t = timers(system);
      const eventId = id ?? `ordo.${++t.nextId}`;
      const key = `${source.sessionId}.${eventId}`;
      const handle = clock.setTimeout(() => {
        t.scheduled.delete(key);
        system._relay(source, target, event);
      }, delay);
      t.scheduled.set(key, { source, target, event, delay, id: eventId, startedAt: clock.now(), handle });
    },
    cancel,
    cancelAll(actorRef) {
      const t = timersOf.get(systemOf(actorRef));
      if (t === undefined) return;
      for (const s of t.scheduled.values()) if (s.source === actorRef) cancel(actorRef, s.id); // deleting while iterating a Map is safe
    },
  };
  schedulers.set(clock, scheduler);
  return scheduler;
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
 *
 * The scheduler is one object per clock and a system's timers are made at its first delayed
 * event, so a process that never schedules one (most: spawn+stop, a restart) pays one property
 * write — a scheduler and map per actor doubled spawn+stop (11 → 25 µs CPU under load).
 */
export function useEnvScheduler(actor: AnyActorRef, clock: Clock): void {
  const system = (actor as unknown as { system?: unknown }).system;
  if (!isXstateSystem(system)) return;
  system.scheduler = schedulerFor(clock);
}
