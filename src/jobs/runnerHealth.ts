/**
 * The runner's health bookkeeping (split out of runner.ts): the last store error, the commits
 * of unknown outcome still settling, the reasons the runner is degraded, and telling listeners
 * when the status or the reasons change — never a crash.
 *
 * @internal Built by the JobRunner.
 */
import type { Env } from '../env/env.ts';
import type { NotifierHealth } from './notifier.ts';
import { isStoreIndeterminate, type Settled } from './uncertain.ts';
import type { Store } from '../store/index.ts';
import type { Queue } from './queue.ts';
import { slotsTaken } from './slots.ts';
import { setOwn } from '../store/values.ts';

/** The runner's health: `degraded` while the store fails or the notifier is isolated — never a crash. */
export interface JobsHealth {
  readonly status: 'starting' | 'ok' | 'degraded' | 'stopping' | 'stopped';
  readonly node: string;
  readonly leader: boolean;
  readonly notifier: NotifierHealth;
  /** Why degraded. */
  readonly reasons: readonly string[];
  readonly lastStoreError: { readonly operation: string; readonly code?: string; readonly message: string; readonly at: number } | undefined;
  readonly queues: Readonly<Record<string, { readonly limit: number; readonly running: number; readonly paused: boolean; readonly globalLimit?: number; readonly globalRunning?: number }>>;
}

/** What the tracker reads of its runner. */
export interface HealthSource {
  readonly env: Env;
  /** The runner's own state (`ok` becomes `degraded` while there is a reason). */
  state(): JobsHealth['status'];
  notifier(): NotifierHealth;
  /** Why the admin socket is not served, if it is not. */
  adminError(): string | undefined;
  /** The rest of the health record: node, leader, queues. */
  parts(): Pick<JobsHealth, 'node' | 'leader' | 'queues'>;
  /** A store operation failed (counted; the queues poll again). */
  storeErrored(): void;
}

/** The runner's degraded reasons and health listeners. */
export class RunnerHealth {
  private readonly src: HealthSource;
  private readonly listeners = new Set<(h: JobsHealth) => void>();
  private lastReported = '';
  /** The last store error, until a store write succeeds again. */
  storeError: JobsHealth['lastStoreError'];
  /** Commits of unknown outcome being settled, by operation. */
  private readonly unsettled = new Map<string, number>();

  constructor(src: HealthSource) {
    this.src = src;
  }

  /** Global-limit queues whose slots row holds an entry of a slot protocol this version cannot read: queue → why (no claim of it meanwhile). */
  private readonly slotsRefused = new Map<string, string>();

  /** Queue `queue`'s claims are refused for a slots entry this version cannot read (`why`), or no longer (`undefined`). */
  slotsProtocol(queue: string, why: string | undefined): void {
    if (why === this.slotsRefused.get(queue)) return;
    if (why === undefined) this.slotsRefused.delete(queue);
    else this.slotsRefused.set(queue, why);
    this.report();
  }

  /** A store operation failed: degraded (logged once per change of reasons) until {@link storeOk}. */
  storeFailed(operation: string, err: unknown): void {
    const e = err as { code?: string; message?: string; queue?: string };
    // not the store's failure: a claim refused for a slot protocol it cannot read (degraded while the entry is there)
    if (e?.code === 'ORDO_JOBS_SLOTS_PROTOCOL' && typeof e.queue === 'string') return this.slotsProtocol(e.queue, String(e.message));
    this.src.storeErrored();
    this.storeError = { operation, ...(e?.code ? { code: e.code } : {}), message: String(e?.message ?? err), at: this.src.env.clock.now() };
    if (this.reasons().join() !== this.lastReported) this.src.env.logger.warn({ report: 'jobs_store_failed', operation, err }, 'job store operation failed; retrying');
    this.report();
  }

  /**
   * A commit's outcome is unknown (`ORDO_REPL_INDETERMINATE`, or the store's
   * `ORDO_STORE_COMMIT_INDETERMINATE`): degraded until it settles; the returned function says how.
   * `counted`: called for a store error count, when this is not also a store failure.
   */
  uncertain(operation: string, err: unknown, counted: () => void): (outcome: Settled) => void {
    const { env } = this.src;
    // the store's own has failed the store: degraded until a write succeeds again (the probe)
    if (isStoreIndeterminate(err)) this.storeFailed(operation, err);
    else counted();
    this.unsettled.set(operation, (this.unsettled.get(operation) ?? 0) + 1);
    env.logger.warn({ report: 'jobs_commit_unknown', operation, err }, 'a job commit ended with an unknown outcome: waiting for its settlement before giving anything back');
    this.report();
    let once = false;
    return (outcome) => {
      if (once) return;
      once = true;
      const n = (this.unsettled.get(operation) ?? 1) - 1;
      if (n > 0) this.unsettled.set(operation, n);
      else this.unsettled.delete(operation);
      env.logger.info({ report: 'jobs_commit_settled', operation, outcome }, `a job commit of unknown outcome settled: ${outcome}`);
      this.report();
    };
  }

  /** A store write succeeded: the store error is cleared. */
  storeOk(): void {
    if (!this.storeError) return;
    this.storeError = undefined;
    this.src.env.logger.info({ report: 'jobs_store_recovered' }, 'job store operations succeed again');
    this.report();
  }

  /** Why the runner is degraded now (empty: it is not). */
  reasons(): string[] {
    const out: string[] = [];
    if (this.storeError) out.push(`store: ${this.storeError.operation}: ${this.storeError.message}`);
    if (this.unsettled.size > 0) out.push(`commit outcome unknown, settling: ${[...this.unsettled].map(([op, n]) => (n > 1 ? `${op} ×${n}` : op)).join(', ')}`);
    if (this.src.notifier().status === 'isolated') out.push('notifier isolated (NATS unreachable): polling');
    const admin = this.src.adminError();
    if (admin) out.push(admin);
    for (const why of this.slotsRefused.values()) out.push(`slots: ${why}`);
    return out;
  }

  /** Tells the listeners when the status or the reasons changed since the last report. */
  report(): void {
    const h = this.health();
    const key = h.status + h.reasons.join();
    if (key === this.lastReported) return;
    this.lastReported = key;
    for (const l of this.listeners) l(h);
  }

  /** Current health. */
  health(): JobsHealth {
    const reasons = this.reasons();
    const state = this.src.state();
    const status = state === 'ok' && reasons.length > 0 ? 'degraded' : state;
    return { status, ...this.src.parts(), notifier: this.src.notifier(), reasons, lastStoreError: this.storeError };
  }

  /** Calls `l` when the status or the reasons change. */
  onHealth(l: (h: JobsHealth) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

/** The `queues` part of a runner's health: each queue's limit, running count, pause, and global slots taken. */
export function queuesHealth(store: Store, queues: ReadonlyMap<string, Queue>): JobsHealth['queues'] {
  const out: Record<string, { limit: number; running: number; paused: boolean; globalLimit?: number; globalRunning?: number }> = {};
  for (const [n, q] of queues) {
    const v = { limit: q.limit, running: q.running.size, paused: q.paused, ...(q.globalLimit !== undefined ? { globalLimit: q.globalLimit, globalRunning: slotsTaken(store, n) } : {}) };
    setOwn(out, n, v); // a queue named `__proto__` is an own key
  }
  return out;
}
