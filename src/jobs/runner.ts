import type { Env } from '../env/env.ts';
import type { TimerHandle } from '../env/clock.ts';
import type { Store } from '../store/index.ts';
import type { ClusterService, Leadership, Membership } from '../cluster/index.ts';
import { cancelJob, executingByRunner, retryJob, setPaused } from './engine.ts';
import { Batcher } from './batcher.ts';
import { serveAdmin } from './admin.ts';
import type { HttpServerHandle } from '../env/index.ts';
import { JobsCommitIndeterminateError, JobsConfigError, JobsRunnerIdInUseError, JobsSlotsProtocolError, JobsStoppedError, JobsStoreError, JobsUnknownWorkerError } from './errors.ts';
import type { ParsedCron } from './cronPlugin.ts';
import type { Notifier } from './notifier.ts';
import { Queue } from './queue.ts';
import { claimsNeverStarted, drainStarted, holdId, holderOf, leftoversGone, runsOn, type LateResult } from './leftovers.ts';
import { Reconciler, stillOut } from './reconcile.ts';
import { JOB_TABLES, countJobs, listJobs, toJob } from './tables.ts';
import { SLOTS_PROTOCOL, foreignEntries } from './slots.ts';
import type { EnqueueOptions, EnqueueResult, Job, JobState, WorkerDef } from './types.ts';
import { insertBatch, settledWrite, storedId, type InsertItem } from './runnerWrites.ts';
import { subscribeFeeds } from './runnerFeed.ts';
import { PluginSet, buildPlugins, listenAdmin, runnerParts } from './runnerParts.ts';
import { buildJob } from './buildJob.ts';
import { validateRunnerConfig, type JobRunnerConfig, type NormalConfig } from './config.ts';
import { Reservoir, jobsPrometheus, type JobsMetrics } from './metrics.ts';
import { isIndeterminate, isStoreIndeterminate, within } from './uncertain.ts';
import { RunnerHealth, queuesHealth, type JobsHealth } from './runnerHealth.ts';

export type { JobsHealth } from './runnerHealth.ts';

/** What the runner needs at start: the Env, the store, and in cluster mode the discovery and election services. */
export interface JobRunnerInput {
  readonly env: Env;
  readonly store: Store;
  readonly config: JobRunnerConfig;
  readonly cluster?: ClusterService;
  readonly leadership?: Leadership;
}

/**
 * Oban for Ordo: jobs in store tables, queues with per-node limits, retries with Oban's backoff,
 * leader-only plugins, a NATS or in-process notifier. Usually run as the `jobRunnerChild` of a
 * tree; `JobRunner.start` is the same without a supervisor.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { JobRunner, defineWorker, jobTables } from 'ordo/jobs';
 *
 * const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: (args) => (console.log('mail to', args.to), { ok: true }) });
 * const env = createRealEnv();
 * const store = await openStore({ env, dir: './data/store', tables: jobTables() });
 * const runner = await JobRunner.start({ env, store, config: { workers: [mailer], queues: { mail: 10 } } });
 * await runner.enqueue(mailer, { to: 'a@example.com' }, { scheduleIn: 60_000 });
 * await runner.stop();
 * await store.close();
 */
export class JobRunner {
  readonly node: string;
  private readonly env: Env;
  private readonly store: Store;
  private readonly cfg: NormalConfig;
  private readonly queues = new Map<string, Queue>();
  private readonly plugins: PluginSet;
  private readonly notifier: Notifier;
  private readonly leadership: Leadership | undefined;
  private readonly membership: Membership;
  private readonly peerNone: boolean;
  private readonly conn: ClusterService['connection'];
  private readonly clusterName: string | undefined;
  private readonly offs: Array<() => void> = [];
  private state: JobsHealth['status'] = 'starting';
  private leader = false;
  private pollTimer: TimerHandle | undefined;
  private readonly m = { started: 0, finished: {} as Record<string, number>, rescued: 0, pruned: 0, cronFired: 0, storeErrors: 0, late: { written: 0, fenced: 0, refused: 0 } as Record<LateResult, number>, start: new Reservoir(), duration: new Reservoir() };
  private readonly h: RunnerHealth;
  private readonly inserter: Batcher<InsertItem, EnqueueResult>;

  private constructor(input: JobRunnerInput, cfg: NormalConfig) {
    const { env, store, cluster } = input;
    this.env = env;
    this.store = store;
    this.cfg = cfg;
    this.h = new RunnerHealth({
      env,
      state: () => this.state,
      notifier: () => this.notifier.health(),
      adminError: () => this.adminError,
      parts: () => ({ node: this.node, leader: this.leader, queues: queuesHealth(this.store, this.queues) }),
      storeErrored: () => {
        this.m.storeErrors++;
        for (const q of this.queues.values()) q.pollIn(this.cfg.pollMs);
      },
    });
    // a batch that may have landed is never inserted again item by item (a job would exist twice)
    this.inserter = new Batcher((items) => insertBatch(this.store, this.node, this.queues, this.state === 'ok' && this.cfg.eagerClaim, items), 1000, (err) => !isIndeterminate(err));
    const p = runnerParts(env, store, cfg, cluster, input.leadership);
    this.node = p.node;
    this.leadership = p.leadership;
    this.leader = p.solo;
    this.peerNone = p.peerNone;
    this.membership = p.membership;
    this.notifier = p.notifier;
    this.conn = p.conn;
    this.clusterName = p.clusterName;
    const qHooks = {
      storeFailed: (op: string, err: unknown) => this.h.storeFailed(op, err),
      storeOk: () => this.h.storeOk(),
      started: (_j: Job, lat: number) => {
        this.m.started++;
        this.m.start.add(lat);
      },
      finished: (_j: Job, state: string, d: number) => {
        this.m.finished[state] = (this.m.finished[state] ?? 0) + 1;
        this.m.duration.add(d);
      },
      uncertain: (op: string, err: unknown) => this.h.uncertain(op, err, () => void this.m.storeErrors++),
      lateEnded: (res: LateResult) => void this.m.late[res]++,
    };
    const paused = (q: string): boolean => (store.get(JOB_TABLES.queues, q)?.['paused'] as boolean | undefined) ?? cfg.queues.get(q)!.paused;
    for (const [q, o] of cfg.queues) this.queues.set(q, new Queue(env, store, this.node, cfg.workers, { name: q, limit: o.limit, paused: paused(q), globalLimit: o.globalLimit }, qHooks));
    this.stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve));
    this.reconciler = new Reconciler({
      env,
      store,
      self: this.node,
      storeFailed: (op, err) => this.h.storeFailed(op, err),
      storeOk: () => this.h.storeOk(),
      returned: (n, queues) => {
        this.m.rescued += n;
        // while starting, nothing claims yet (run() dispatches): the other nodes are told
        for (const q of queues) this.state === 'starting' ? this.notifier.publish('insert', { queue: q }) : this.wake(q, true);
      },
      lateEnded: (res) => void this.m.late[res]++,
    });
    this.plugins = new PluginSet(buildPlugins(env, store, cfg, this.membership, this.node, cluster !== undefined && this.conn !== undefined, {
      storeFailed: (op, err) => this.h.storeFailed(op, err),
      storeOk: () => this.h.storeOk(),
      available: (q) => this.wake(q, true),
      rescued: (n) => void (this.m.rescued += n),
      pruned: (n) => void (this.m.pruned += n),
      fired: () => void this.m.cronFired++,
      cronJob: (c, slot) => this.cronJob(c, slot),
      isLeader: () => this.leader,
    }));
  }

  /**
   * Validates `config`, checks the store has the job tables, and starts queues, notifier and (when
   * leader) plugins. When `signal` is aborted before the runner would start claiming (its child
   * was stopped or killed while it booted), it resolves with a runner already stopped: nothing
   * claimed, no timer armed; aborted later, the runner is killed ({@link JobRunner.kill}).
   *
   * One runner id (`node/incarnation`) runs once per store data in a process: a start under the
   * id of a runner that runs (or is starting) there rejects with `ORDO_JOBS_RUNNER_ID_IN_USE`
   * and leaves that one untouched; a start under the id of one that is stopping waits for its
   * stop — its drain's give-back — before it reconciles or claims anything (at most the
   * config's `shutdownMs` plus 5 s, then it starts all the same, with a warn).
   */
  static async start(input: JobRunnerInput, signal?: AbortSignal): Promise<JobRunner> {
    const r = new JobRunner(input, validateRunnerConfig(input.config));
    const prev = holderOf(r.store, r.node);
    if (prev?.live()) {
      r.retire();
      throw new JobsRunnerIdInUseError(r.node, r.store.dir);
    }
    r.unhold = holdId(r.store, r.node, {
      live: () => r.state === 'ok' || r.state === 'degraded' || (r.state === 'starting' && !signal?.aborted),
      stopped: r.stopped,
      // a late outcome of a perform an earlier runner of this id left running: counted and settled here
      lateEnded: (res) => void r.m.late[res]++,
      lateDue: () => void r.reconciler.run(),
    });
    try {
      // a drain of this id under way: its give-back first (else its jobs would be reconciled, charged)
      if (prev && !(await within(r.env, prev.stopped, r.cfg.shutdownMs + 5000))) {
        r.env.logger.warn({ report: 'jobs_previous_runner_still_stopping', runner: r.node }, 'the runner stopping under this id has not stopped in time: starting all the same');
      }
      r.offs.push(runsOn(r.store, r.node));
      r.reconciler.atStart();
      await r.reconciler.run();
      if (signal?.aborted) {
        r.retire();
        return r;
      }
      r.run();
      // aborted from now on (its child stopped before it saw the boot end): killed, never left claiming
      signal?.addEventListener('abort', () => r.kill(), { once: true });
      if (r.cfg.adminSocket !== undefined) {
        const a = await listenAdmin(r.env, r.cfg.adminSocket, r);
        if ('server' in a) r.adminServer = a.server;
        else (r.adminError = a.error), r.h.report();
      }
    } catch (err) {
      r.retire();
      throw err;
    }
    return r;
  }

  /** Never ran (or failed to start): stopped, nothing of it left armed. */
  private retire(): void {
    this.env.clock.clearTimeout(this.pollTimer);
    for (const off of this.offs.splice(0)) off();
    void this.notifier.close();
    void this.adminServer?.close();
    this.ended();
  }

  /** Resolves once this runner is stopped (never rejects); its id is free then. */
  private readonly stopped: Promise<void>;
  private resolveStopped: () => void = () => undefined;
  private unhold: (() => void) | undefined;

  private ended(): void {
    this.state = 'stopped';
    this.reconciler.stop();
    this.unhold?.();
    this.resolveStopped();
  }

  /** This runner id's rows nothing runs: returned at start, and claims of unknown outcome that land later (reconcile.ts). */
  private readonly reconciler: Reconciler;

  private adminServer: HttpServerHandle | undefined;
  private adminError: string | undefined;

  private run(): void {
    this.offs.push(
      ...subscribeFeeds({
        env: this.env, store: this.store, notifier: this.notifier, queues: this.queues, node: this.node, self: this.membership.self,
        // a claim of unknown outcome is rare: the row becomes a job only while one is watched (once per claim otherwise)
        executingSeen: (row) => void (claimsNeverStarted(this.store, this.node).size > 0 && this.reconciler.lateClaim(toJob(row))),
        scheduled: (at) => this.plugins.running && this.plugins.stager.arm(at - this.env.clock.now()),
        report: () => this.h.report(),
      }),
    );
    // a late claim that landed while this runner started (after its reconciliation read the rows)
    if (claimsNeverStarted(this.store, this.node).size > 0) for (const j of executingByRunner(this.store).get(this.node) ?? []) this.reconciler.lateClaim(j);
    if (this.conn && this.clusterName) this.offs.push(serveAdmin(this.env, this.conn, this.clusterName, this));
    if (this.leadership) {
      this.offs.push(this.leadership.on('leader', () => this.setLeader(true)), this.leadership.on('follower', () => this.setLeader(false)));
      this.leader = this.leadership.isLeader();
    }
    this.state = 'ok';
    if (this.leader && !this.peerNone) this.plugins.start();
    this.warnForeign();
    for (const q of this.queues.values()) q.dispatch();
    this.poll();
    this.h.report();
  }

  /** Entries of global-limit slots rows already warned of, by queue, runner and protocol. */
  private readonly foreignSeen = new Set<string>();

  /** A rolling deploy mixing slot protocols on a global-limit queue: warned once per runner (errors.ts, JobsSlotsProtocolError). */
  private warnForeign(): void {
    if (![...this.queues.values()].some((q) => q.globalLimit !== undefined)) return;
    const refused = new Map<string, string>();
    for (const f of foreignEntries(this.store)) {
      if (this.queues.get(f.queue)?.globalLimit === undefined) continue;
      const err = new JobsSlotsProtocolError(f.queue, f.runner, f.protocol, SLOTS_PROTOCOL, f.value);
      // protocol 1 is read and kept (within the limit); any other refuses the queue's claims
      if (f.protocol !== 1 && !refused.has(f.queue)) refused.set(f.queue, err.message);
      const k = `${f.queue}\u0000${f.runner}\u0000${f.protocol}`;
      if (this.foreignSeen.has(k)) continue;
      this.foreignSeen.add(k);
      this.env.logger.warn({ report: 'jobs_slots_protocol_mixed', queue: f.queue, runner: f.runner, theirs: f.protocol, ours: SLOTS_PROTOCOL, err }, err.message);
    }
    for (const [q, queue] of this.queues) if (queue.globalLimit !== undefined) this.h.slotsProtocol(q, refused.get(q));
  }

  private poll(): void {
    this.pollTimer = this.env.clock.setTimeout(() => {
      if (this.state === 'stopping' || this.state === 'stopped') return;
      this.warnForeign();
      for (const q of this.queues.values()) q.dispatch();
      if (this.reconciler.due) void this.reconciler.run();
      else if (this.h.storeError) this.probe();
      this.poll();
    }, this.cfg.pollMs);
  }

  /** While degraded by the store, a harmless write (a queue row rewritten as is) tells when it is back. */
  private probe(): void {
    const q = this.queues.keys().next().value as string;
    this.store
      .transaction((tx) => void tx.put(JOB_TABLES.queues, tx.get(JOB_TABLES.queues, q) ?? { queue: q, paused: this.queues.get(q)!.paused }))
      .then(() => this.h.storeOk(), () => undefined);
  }

  private setLeader(on: boolean): void {
    if (this.state === 'stopping' || this.state === 'stopped' || this.peerNone) return;
    this.leader = on;
    if (on) this.plugins.start();
    else void this.plugins.stop();
    this.h.report();
  }

  private wake(queue: string, notify: boolean): void {
    this.queues.get(queue)?.dispatch();
    if (notify) this.notifier.publish('insert', { queue });
  }

  private cronJob(c: ParsedCron, slot: number): Job {
    const w = c.entry.worker;
    return this.buildJob(w, c.entry.args, { ...c.entry.options, id: `cron:${c.name}:${slot}`, meta: { ...c.entry.options?.meta, cron: c.name, cronAt: slot } }, this.env.clock.now());
  }

  private buildJob(w: WorkerDef<never>, args: unknown, o: EnqueueOptions, now: number): Job {
    const queue = o.queue ?? w.queue;
    if (!this.queues.has(queue)) throw new JobsConfigError('queue', queue, 'no such queue on this runner');
    return buildJob(w, args, { ...o, queue }, now, () => this.env.random.next());
  }

  /**
   * Inserts a job of `worker` with `args` (typed by the worker). Resolves once it is stored;
   * `conflict: true` when a unique duplicate (or a job with the same `id`) exists — that job is
   * returned. Rejects with `ORDO_JOBS_STORE` when the store refuses the write (nothing stored),
   * and with `ORDO_JOBS_COMMIT_INDETERMINATE` naming the job's id when the store's synced commit
   * failed after its WAL write (`outcome: 'committed'`: the job is stored — never enqueue it
   * again; `'unknown'`: once the store is reopened it may be there — enqueue again with
   * `options.id` set to that id, which returns the stored one as a conflict if it is).
   */
  async enqueue<Args>(worker: WorkerDef<Args>, args: NoInfer<Args>, options: EnqueueOptions = {}): Promise<EnqueueResult<Args>> {
    if (this.state === 'stopped') throw new JobsStoppedError('enqueue');
    const w = this.cfg.workers.get(worker.name);
    if (!w) throw new JobsUnknownWorkerError(worker.name);
    const now = this.env.clock.now();
    const job = this.buildJob(w, args, options, now);
    const unique = options.unique === false ? undefined : (options.unique ?? w.unique);
    try {
      const res = await this.inserter.add({ job, unique, now });
      return res as EnqueueResult<Args>;
    } catch (err) {
      this.h.storeFailed('enqueue', err);
      if (isStoreIndeterminate(err)) throw new JobsCommitIndeterminateError('enqueue', [storedId(this.store, job, err.outcome)], err.outcome, { cause: err, queue: job.queue });
      throw new JobsStoreError('enqueue', { cause: err });
    }
  }

  /** Cancels a job; a running one is aborted on whichever node runs it. */
  async cancel(id: string): Promise<{ ok: true; was: JobState } | { ok: false; error: 'not_found' | 'final' }> {
    const r = await this.settled('cancel', [id], undefined, () => cancelJob(this.store, id, this.env.clock.now()), () => {
      // committed: a running job's runner elsewhere is told all the same (this node's abort comes from the change feed)
      if (this.get(id)?.state === 'cancelled') this.notifier.publish('signal', { type: 'cancel', id });
    });
    if (r.ok && r.was === 'executing') this.notifier.publish('signal', { type: 'cancel', id });
    return r.ok ? { ok: true, was: r.was } : r;
  }

  /** Makes a job available now (a discarded one gets one more attempt). */
  async retry(id: string): Promise<{ ok: true } | { ok: false; error: 'not_found' | 'executing' | 'available' }> {
    const r = await this.settled('retry', [id], undefined, () => retryJob(this.store, id, this.env.clock.now()));
    return r.ok ? { ok: true } : r;
  }

  /** Pauses a queue on every node (stored: survives restarts). Running jobs finish. */
  async pause(queue: string): Promise<void> {
    this.knownQueue(queue);
    await this.settled('pause', [], queue, () => setPaused(this.store, queue, true));
  }

  /** Resumes a paused queue on every node. */
  async resume(queue: string): Promise<void> {
    this.knownQueue(queue);
    await this.settled('resume', [], queue, () => setPaused(this.store, queue, false));
  }

  private settled<T>(operation: string, ids: readonly string[], queue: string | undefined, write: () => Promise<T>, onCommitted?: () => void): Promise<T> {
    return settledWrite(operation, ids, queue, write, (op, err) => this.h.storeFailed(op, err), onCommitted);
  }

  /** Sets a queue's concurrency limit on this node (`all`: on every node, through the notifier). */
  scale(queue: string, limit: number, where: 'local' | 'all' = 'local'): void {
    const q = this.knownQueue(queue);
    if (!Number.isInteger(limit) || limit < 1) throw new JobsConfigError('limit', limit, 'must be a positive integer');
    q.limit = limit;
    q.dispatch();
    if (where === 'all') this.notifier.publish('signal', { type: 'scale', queue, limit });
  }

  private knownQueue(queue: string): Queue {
    const q = this.queues.get(queue);
    if (!q) throw new JobsConfigError('queue', queue, `no such queue (configured: ${[...this.queues.keys()].join(', ')})`);
    return q;
  }

  /** One job by id. */
  get(id: string): Job | undefined {
    const r = this.store.get(JOB_TABLES.jobs, id);
    return r ? toJob(r) : undefined;
  }

  /** Jobs in `state` (optionally of one queue), in lane order, at most `limit` (default 100). */
  list(o: { state?: JobState; queue?: string; limit?: number } = {}): Job[] {
    return listJobs(this.store, o);
  }

  /** Current health. */
  health(): JobsHealth {
    return this.h.health();
  }

  /** Calls `l` when the status or the reasons change. */
  onHealth(l: (h: JobsHealth) => void): () => void {
    return this.h.onHealth(l);
  }

  /** Counts and latencies (see {@link jobsPrometheus} for the text format). */
  metrics(): JobsMetrics {
    const jobs = countJobs(this.store, this.queues.keys());
    const { started, finished, rescued, pruned, cronFired, storeErrors } = this.m;
    return { jobs, started, finished: { ...finished }, rescued, pruned, cronFired, storeErrors, lateOutcomes: { ...this.m.late }, startLatencyMs: this.m.start.summary(), durationMs: this.m.duration.summary() };
  }

  /** `/metrics` text. */
  prometheus(): string {
    return jobsPrometheus(this.metrics());
  }

  /**
   * Stops in Oban's order: leader-only plugins first (no staging, rescuing or cron firing while
   * queues drain), then the queues drain for `shutdownMs`. Then every perform still running is
   * aborted: those that end within a short grace have their jobs returned to `available`
   * (attempt given back; none lost); one that ignores its signal leaves its job `executing` for
   * the lifeline (a `jobs_perform_ignored_abort` warn names it), so it never runs twice at once.
   * Resolves with how many were returned.
   */
  stop(): Promise<number> {
    return this.stopWithin(this.cfg.shutdownMs);
  }

  /**
   * Its child was killed (a brutal kill, a shutdown timeout, a kill of the tree above) rather than
   * stopped: it stops claiming now, and its performs are aborted at once — a stop whose drain has
   * no deadline (those that end within the abort's grace go back to `available`, one that ignores
   * it stays `executing` under this runner id, as after a drain). During a stop it cuts the
   * drain short the same way: the deadline is now.
   */
  kill(): void {
    this.killed.abort();
    this.stopWithin(0).catch((err: unknown) => this.env.logger.error({ report: 'jobs_stop_failed', runner: this.node, err }, 'job runner stop after a kill failed'));
  }

  /** Aborted by {@link JobRunner.kill}: a drain under way ends its wait now. */
  private readonly killed = new AbortController();

  private async stopWithin(shutdownMs: number): Promise<number> {
    if (this.state === 'stopping' || this.state === 'stopped') return 0;
    this.state = 'stopping';
    this.h.report();
    this.env.clock.clearTimeout(this.pollTimer);
    // performs that end from here on are remembered until their give-back is proven (leftovers.ts)
    const drained = drainStarted(this.store, this.node);
    try {
      await this.plugins.stop();
      for (const off of this.offs.splice(0)) off();
      await this.adminServer?.close();
      const returned = (await Promise.all([...this.queues.values()].map((q) => q.drain(shutdownMs, this.killed.signal)))).reduce((a, b) => a + b, 0);
      await this.notifier.close();
      return returned;
    } finally {
      drained((token) => stillOut(this.store, this.node, token));
      this.ended();
      this.h.report();
    }
  }

  /** Simulation only: the process died (`kill -9`): timers cleared, nothing written. @internal */
  halt(): void {
    this.state = 'stopped';
    this.env.clock.clearTimeout(this.pollTimer);
    void this.plugins.stop();
    for (const off of this.offs.splice(0)) off();
    for (const q of this.queues.values()) q.halt();
    leftoversGone(this.store, this.node);
    void this.notifier.close();
    void this.adminServer?.close();
    this.ended();
  }
}
