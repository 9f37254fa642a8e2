/**
 * Leader-only plugins (Oban's Stager, Pruner, Lifeline; Cron in `cronPlugin.ts`), run on the
 * election child's leadership: started when this node becomes leader, stopped when it is not.
 * Each runs one operation at a time on `env.clock` timers; a store error is reported (the runner
 * becomes degraded) and the next round tries again — never a crash (seed steps 11–16: Oban's
 * stager crashing on every database error until the root supervisor gave up).
 *
 * @internal Built by the runner.
 */
import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { Store } from '../store/index.ts';
import type { Membership } from '../cluster/index.ts';
import { executingByRunner, prune, rescue, stage } from './engine.ts';
import { slotHolders } from './slots.ts';
import type { Job } from './types.ts';

/** What a plugin reports to its runner. */
export interface PluginHooks {
  storeFailed(operation: string, err: unknown): void;
  storeOk(): void;
  /** Jobs of `queue` became available (wake local producers; notify the others). */
  available(queue: string): void;
  rescued(n: number): void;
  pruned(n: number): void;
}

/** A leader-only plugin. */
export interface Plugin {
  readonly name: string;
  start(): void;
  /** Clears its timers and waits for the operation in flight. */
  stop(): Promise<void>;
  /** Runs a round now (after the one in flight). */
  poke(): void;
}

/** What a round did: the delay to the next one (`undefined`: the interval) and whether it wrote. */
export interface Round {
  readonly next?: number | undefined;
  readonly wrote: boolean;
  /** Part of it failed, already reported (the cron entry the store refused): the round is tried again as a failed one is, soon. */
  readonly failed?: boolean;
}

/** A failed round is tried again after this (doubling per failure, at most {@link RETRY_MAX_MS}, never later than the interval). */
export const RETRY_MIN_MS = 1000;
/** The longest wait before a failed round is tried again. */
export const RETRY_MAX_MS = 5000;

/**
 * A plugin that runs `round()` now and then after the delay it returns (`undefined`: its
 * interval). One round at a time; a failing round is logged, reported, and retried soon — after
 * {@link RETRY_MIN_MS}, doubling up to {@link RETRY_MAX_MS} — not a whole interval later: a
 * cron tick refused at the top of its minute and retried a minute later would find the next
 * slot due and fire that one, skipping the refused slot.
 */
export class TimedPlugin implements Plugin {
  readonly name: string;
  private timer: TimerHandle | undefined;
  private inflight: Promise<void> | undefined;
  private running = false;
  private pokeAgain = false;
  /** Rounds failed in a row. */
  private fails = 0;
  private readonly env: Env;
  private readonly intervalMs: number;
  private readonly round: () => Promise<Round>;
  private readonly hooks: PluginHooks;

  constructor(env: Env, name: string, intervalMs: number, hooks: PluginHooks, round: () => Promise<Round>) {
    this.env = env;
    this.name = name;
    this.intervalMs = intervalMs;
    this.hooks = hooks;
    this.round = round;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.poke();
  }

  poke(): void {
    if (!this.running) return;
    if (this.inflight) {
      this.pokeAgain = true;
      return;
    }
    this.env.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight = this.round().then(
      (r) => {
        if (r.failed) return this.retryIn();
        // only a write proves the store is back (reads are served from RAM even when the disk fails)
        if (r.wrote) this.hooks.storeOk();
        this.fails = 0;
        return r.next;
      },
      (err) => {
        this.hooks.storeFailed(this.name, err);
        return this.retryIn();
      },
    ).then((next) => {
      this.inflight = undefined;
      if (!this.running) return;
      if (this.pokeAgain) {
        this.pokeAgain = false;
        return this.poke();
      }
      this.arm(next ?? this.intervalMs);
    });
  }

  /** One more failed round: the delay before it is tried again. */
  private retryIn(): number {
    this.fails++;
    return Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.fails - 1));
  }

  /** Runs the next round in `ms` unless one is armed sooner. */
  arm(ms: number): void {
    if (!this.running || this.inflight) return;
    this.env.clock.clearTimeout(this.timer);
    this.timer = this.env.clock.setTimeout(() => {
      this.timer = undefined;
      this.poke();
    }, Math.max(0, Math.min(ms, this.intervalMs)));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.env.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.inflight;
  }
}

/** Stager: scheduled and retryable jobs whose time came become available (wakes at the next due time). */
export function stagerPlugin(env: Env, store: Store, intervalMs: number, limit: number, hooks: PluginHooks): TimedPlugin {
  return new TimedPlugin(env, 'stager', intervalMs, hooks, async () => {
    const now = env.clock.now();
    const { queues, nextDue } = await stage(store, now, limit);
    for (const q of queues) hooks.available(q);
    return { next: nextDue === undefined ? undefined : nextDue - env.clock.now(), wrote: queues.size > 0 };
  });
}

/**
 * Rows the pruner deletes per transaction. The store runs in-process: one transaction's delete
 * holds the event loop for its whole write (≈ 60–80 µs a row: 5,000 rows ≈ 0.4 s, a stall every
 * job start and request would wait out), so a round deletes in small transactions, apart.
 */
export const PRUNE_CHUNK = 100;
/** The pause between two pruner transactions while more rows are due. */
export const PRUNE_PAUSE_MS = 10;

/**
 * Pruner: deletes completed, cancelled and discarded jobs older than `maxAgeMs` — rounds of at
 * most `limit`, in transactions of at most {@link PRUNE_CHUNK} rows {@link PRUNE_PAUSE_MS}
 * apart. A round that ends full (more may be due) starts the next after the pause, not after
 * `intervalMs`, so pruning keeps up with any completion rate; a failed transaction ends the
 * round (the next starts whole, after the interval).
 */
export function prunerPlugin(env: Env, store: Store, intervalMs: number, maxAgeMs: number, limit: number, hooks: PluginHooks): TimedPlugin {
  let left = limit;
  return new TimedPlugin(env, 'pruner', intervalMs, hooks, async () => {
    const chunk = Math.min(PRUNE_CHUNK, left);
    let n: number;
    try {
      n = await prune(store, env.clock.now() - maxAgeMs, chunk);
    } catch (err) {
      left = limit;
      throw err;
    }
    if (n > 0) hooks.pruned(n);
    left -= n;
    // a full chunk: more may be due — the next chunk (or the next round) after a pause
    const full = n >= chunk;
    if (!full || left <= 0) left = limit;
    return { next: full ? PRUNE_PAUSE_MS : undefined, wrote: n > 0 };
  });
}

/** Options of the lifeline. */
export interface LifelineOptions {
  readonly intervalMs: number;
  /** A runner missing from membership this long is dead: its executing jobs are rescued. */
  readonly graceMs: number;
  /** Also rescue jobs executing longer than this, even on a live node (`undefined`: never). */
  readonly rescueAfterMs: number | undefined;
}

/** A timed plugin that also runs a round whenever membership reports a node down, while it runs. */
class MembershipPlugin extends TimedPlugin {
  private off: (() => void) | undefined;
  private readonly membership: Membership;

  constructor(env: Env, name: string, intervalMs: number, hooks: PluginHooks, membership: Membership, round: () => Promise<Round>) {
    super(env, name, intervalMs, hooks, round);
    this.membership = membership;
  }

  override start(): void {
    super.start();
    this.off ??= this.membership.on('nodedown', () => this.poke());
  }

  override async stop(): Promise<void> {
    this.off?.();
    this.off = undefined;
    await super.stop();
  }
}

/**
 * Lifeline: executing jobs whose runner (`node/incarnation`) is not a live member — the node
 * died or restarted — are returned to available (attempts left) or discarded, and the global
 * slots it holds are dropped in the same transaction. Membership, not age: a `kill -9`'d node's
 * jobs are rescued once membership drops it (plus `graceMs`), not an hour later — and a
 * `nodedown` runs a round at once, so the grace starts when membership says so rather than at
 * the next interval (its slots were held up to `intervalMs` longer, the queue short of them).
 * The grace itself stays: membership can drop a node whose performs still run (a partition, a
 * late heartbeat), and dropping their slots then would exceed the global limit. `self` is this
 * runner: its own jobs are never rescued by membership.
 */
export function lifelinePlugin(env: Env, store: Store, membership: Membership, self: string, o: LifelineOptions, hooks: PluginHooks): TimedPlugin {
  const missingSince = new Map<string, number>();
  return new MembershipPlugin(env, 'lifeline', o.intervalMs, hooks, membership, async () => {
    const now = env.clock.now();
    const live = new Set(membership.members().map((m) => `${m.name}/${m.incarnation}`));
    live.add(self);
    const orphans: Job[] = [];
    let soonest: number | undefined;
    const byRunner = executingByRunner(store);
    // a dead runner may hold global slots with no job executing (a perform that outlived its timeout)
    const holders = slotHolders(store);
    const suspects = new Set([...byRunner.keys(), ...holders.keys()]);
    for (const k of missingSince.keys()) if (!suspects.has(k) || live.has(k)) missingSince.delete(k);
    const dead = new Set<string>();
    for (const by of suspects) {
      const jobs = byRunner.get(by) ?? [];
      if (!live.has(by)) {
        const since = missingSince.get(by) ?? now;
        missingSince.set(by, since);
        if (now - since >= o.graceMs) {
          orphans.push(...jobs);
          dead.add(by);
        } else soonest = Math.min(soonest ?? Infinity, since + o.graceMs - now);
      } else if (o.rescueAfterMs !== undefined) {
        orphans.push(...jobs.filter((j) => (j.attemptedAt ?? now) <= now - o.rescueAfterMs!));
      }
    }
    const dropQueues = new Set([...dead].flatMap((r) => holders.get(r) ?? []));
    if (orphans.length > 0 || dropQueues.size > 0) {
      // the dead runners' slots come back in the transaction that rescues their jobs
      const n = await rescue(store, orphans, now, 'rescued: its runner is gone (lifeline)', false, dropQueues.size > 0 ? { runners: dead, queues: dropQueues } : undefined);
      const queues = new Set([...orphans.map((j) => j.queue), ...dropQueues]);
      for (const q of queues) hooks.available(q);
      if (n > 0) hooks.rescued(n);
    }
    return { next: soonest, wrote: orphans.length > 0 || dropQueues.size > 0 };
  });
}
