/**
 * The cron plugin (leader only). Each entry's last fire time lives in the store
 * (`ordo_jobs_cron`); a round inserts the job of the latest slot after it **and** moves the
 * fire time in one transaction. Two nodes that both believe they lead (Oban #1488) both run
 * that transaction: the store's conflict check lets one commit, the other re-runs, sees the new
 * fire time and inserts nothing — and the job id is the slot (`cron:<name>:<ms>`), so even a
 * second insert would be the same row. A slot missed while no node led is fired once by the
 * next leader (never skipped); older missed slots are not replayed, as Oban. Each entry is its
 * own transaction: one the store refuses is reported and retried soon, and never keeps the
 * entries after it from firing in that round (Oban's cron inserts a minute's jobs in one
 * transaction: one failure loses them all until the next minute).
 *
 * @internal Built by the runner.
 */
import type { Env } from '../env/env.ts';
import type { Store } from '../store/index.ts';
import { lastSlot, parseCron, type CronSchedule } from './cron.ts';
import { insertInTx } from './engine.ts';
import { JOB_TABLES } from './tables.ts';
import type { EnqueueOptions, Job, WorkerDef } from './types.ts';
import { TimedPlugin, type PluginHooks } from './plugins.ts';
import { JobsConfigError } from './errors.ts';
import { checkValue } from '../store/values.ts';

/** One crontab entry. */
export interface CronEntry<Args = unknown> {
  /** Unique; names the stored fire time (default `<worker>:<expression>`). */
  readonly name?: string;
  /** 5 fields or an alias: `@yearly @annually @monthly @weekly @daily @midnight @hourly`. */
  readonly expression: string;
  /** IANA zone the expression is read in (default `Etc/UTC`). */
  readonly timezone?: string;
  readonly worker: WorkerDef<Args>;
  readonly args: Args;
  readonly options?: Omit<EnqueueOptions, 'scheduledAt' | 'scheduleIn' | 'id' | 'unique'>;
}

/**
 * A crontab entry whose `args` are checked against its worker's `Args`.
 *
 * @example
 * import { cronEntry, defineWorker, type JobRunnerConfig } from 'ordo/jobs';
 *
 * const digest = defineWorker<{ list: string }>({ name: 'digest', perform: () => ({ ok: true }) });
 * const config: JobRunnerConfig = {
 *   workers: [digest],
 *   queues: { default: 1 },
 *   crontab: [cronEntry({ expression: '@daily', timezone: 'Europe/Paris', worker: digest, args: { list: 'all' } })], // args typed by the worker
 * };
 * console.log(config.crontab?.length);
 */
export function cronEntry<Args>(e: CronEntry<Args> & { readonly args: NoInfer<Args> }): CronEntry<unknown> {
  return e as CronEntry<unknown>;
}

/** @internal a checked entry */
export interface ParsedCron {
  readonly name: string;
  readonly schedule: CronSchedule;
  readonly entry: CronEntry<unknown>;
}

/** Checks and parses entries (spec time). */
export function parseCronEntries(entries: readonly CronEntry<unknown>[]): ParsedCron[] {
  return entries.map((raw) => {
    const e = snapshot(raw);
    const schedule = parseCron(e.expression, e.timezone);
    const name = e.name ?? `${e.worker.name}:${e.expression}`;
    return { name, schedule, entry: { ...e, args: stored(`crontab ${name}.args`, e.args), ...(e.options === undefined ? {} : { options: storedOptions(name, e.options) }) } };
  });
}

/**
 * The entry's fields, each read once into a copy: what fires later is what was checked now (a
 * getter is not read again at fire time, a later change to the caller's object is not seen).
 */
function snapshot(e: CronEntry<unknown>): CronEntry<unknown> {
  const { name, expression, timezone, worker, args, options } = e;
  return { expression, worker, args, ...(name === undefined ? {} : { name }), ...(timezone === undefined ? {} : { timezone }), ...(options === undefined ? {} : { options: { ...options } }) };
}

/** The store's checked, deep-frozen copy of `v`, or a refusal naming `field` if it would not survive the store. */
function stored(field: string, v: unknown): unknown {
  const c = checkValue(v);
  if (typeof c === 'string') throw new JobsConfigError(field, v, `cannot be stored: ${c}`);
  return c.value;
}

function storedOptions(name: string, o: NonNullable<CronEntry['options']>): NonNullable<CronEntry['options']> {
  return o.meta === undefined ? o : { ...o, meta: stored(`crontab ${name}.options.meta`, o.meta) as Record<string, unknown> };
}

const MINUTE = 60_000;

/** One entry's transaction: the job of the latest slot after its stored fire time, and the new fire time (first sight: the fire time only). */
function fireEntry(store: Store, c: ParsedCron, now: number, build: (c: ParsedCron, slot: number) => Job): Promise<{ slot: number; queue: string } | undefined> {
  return store.transaction((tx) => {
    const row = tx.get(JOB_TABLES.cron, c.name);
    if (!row) {
      // first sight of this entry: fire from the next slot on
      tx.put(JOB_TABLES.cron, { name: c.name, expression: c.schedule.expression, lastFireAt: now });
      return undefined;
    }
    const slot = lastSlot(c.schedule, now, row['lastFireAt'] as number);
    if (slot === undefined) return undefined;
    const job = build(c, slot);
    insertInTx(tx, job, undefined, now);
    tx.put(JOB_TABLES.cron, { name: c.name, expression: c.schedule.expression, lastFireAt: slot });
    return { slot, queue: job.queue };
  });
}

/**
 * The plugin. `build(entry, slot)` makes the job (the runner's defaults applied); `isLeader` is
 * checked before each round — the store transaction is what makes a stale leader harmless.
 */
export function cronPlugin(
  env: Env,
  store: Store,
  crons: readonly ParsedCron[],
  build: (c: ParsedCron, slot: number) => Job,
  isLeader: () => boolean,
  hooks: PluginHooks & { fired(name: string, slot: number): void },
): TimedPlugin {
  return new TimedPlugin(env, 'cron', MINUTE, hooks, async () => {
    const now = env.clock.now();
    let wrote = false;
    let failed = false;
    if (isLeader()) {
      for (const c of crons) {
        let fired: { slot: number; queue: string } | undefined;
        try {
          fired = await fireEntry(store, c, now, build);
        } catch (err) {
          // each entry on its own: one the store refuses is reported (logged, counted) and its slot
          // tried again soon (the round is retried); the entries after it still fire this round
          hooks.storeFailed(`cron ${c.name}`, err);
          failed = true;
          continue;
        }
        wrote = true;
        if (fired) {
          hooks.fired(c.name, fired.slot);
          hooks.available(fired.queue);
        }
      }
    }
    // the top of the next minute (a refused entry: soon, by the plugin's retry)
    return { next: MINUTE - (env.clock.now() % MINUTE), wrote, failed };
  });
}
