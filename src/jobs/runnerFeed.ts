/**
 * What a runner listens to while it runs (split out of runner.ts): the job, queue and slot
 * tables' change feeds and the notifier's messages, each turned into a queue's dispatch, an
 * abort, a pause, or the stager's next wake-up.
 *
 * @internal Used by the runner.
 */
import type { Env } from '../env/env.ts';
import type { Row, Store } from '../store/index.ts';
import { JobsCancelledError } from './errors.ts';
import type { JobSignal, Notifier } from './notifier.ts';
import type { Queue } from './queue.ts';
import { heldSum } from './slots.ts';
import { JOB_TABLES } from './tables.ts';
import type { JobState } from './types.ts';

/** What the feeds act on: the runner's parts. */
export interface FeedHost {
  readonly env: Env;
  readonly store: Store;
  readonly notifier: Notifier;
  readonly queues: ReadonlyMap<string, Queue>;
  /** The runner id (`node/incarnation`). */
  readonly node: string;
  /** This node's name (a signal may name the node rather than the runner). */
  readonly self: string;
  /** A job row was written `executing` under this runner's id (any commit, local or replicated): the row as stored. */
  executingSeen(row: Row): void;
  /** A job became scheduled or retryable at `at` (the stager, when it runs here, wakes for it). */
  scheduled(at: number): void;
  /** The notifier's health changed. */
  report(): void;
}

/** Subscribes the runner to its feeds; returns the unsubscribers. */
export function subscribeFeeds(h: FeedHost): Array<() => void> {
  const { store, notifier, queues } = h;
  return [
    store.subscribe(JOB_TABLES.jobs, (ev) => {
      if (ev.op !== 'put') return;
      const st = ev.value['state'] as JobState;
      if (st === 'available') queues.get(ev.value['queue'] as string)?.dispatch();
      else if (st === 'executing' && ev.value['attemptedBy'] === h.node) h.executingSeen(ev.value);
      else if (st === 'cancelled' && ev.old?.['state'] === 'executing') queues.get(ev.value['queue'] as string)?.abortJob(ev.value['id'] as string, new JobsCancelledError(ev.value['id'] as string));
      else if (st === 'scheduled' || st === 'retryable') h.scheduled(ev.value['scheduledAt'] as number);
    }),
    store.subscribe(JOB_TABLES.queues, (ev) => {
      const q = queues.get(ev.value['queue'] as string);
      if (!q || ev.op !== 'put') return;
      q.paused = ev.value['paused'] as boolean;
      if (!q.paused) q.dispatch();
    }),
    // a global slot given back anywhere in the cluster: this node may claim again
    store.subscribe(JOB_TABLES.slots, (ev) => {
      const q = queues.get(ev.key as string);
      if (q?.globalLimit !== undefined && heldSum(ev.op === 'put' ? ev.value : undefined) < heldSum(ev.op === 'put' ? ev.old : ev.value)) q.dispatch();
    }),
    notifier.subscribe('insert', (p) => 'queue' in p && queues.get(p.queue)?.dispatch()),
    notifier.subscribe('signal', (p) => onSignal(h, p as JobSignal)),
    notifier.onHealth(() => h.report()),
  ];
}

function onSignal(h: FeedHost, s: JobSignal): void {
  if (s.type === 'cancel') {
    for (const q of h.queues.values()) q.abortJob(s.id, new JobsCancelledError(s.id));
    return;
  }
  if (s.node !== undefined && s.node !== h.node && s.node !== h.self) return;
  const q = h.queues.get(s.queue);
  if (q && s.type === 'scale') {
    q.limit = s.limit;
    q.dispatch();
  }
}
