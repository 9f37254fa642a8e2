import type { JobState } from './types.ts';

/** Percentiles of a latency sample (ms). */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** What the runner counts (for `/metrics` and health). */
export interface JobsMetrics {
  /** Jobs in the store by queue and state (this node's view). */
  readonly jobs: Readonly<Record<string, Partial<Record<JobState, number>>>>;
  /** Counters since this runner started. */
  readonly started: number;
  readonly finished: Readonly<Record<string, number>>;
  readonly rescued: number;
  readonly pruned: number;
  readonly cronFired: number;
  readonly storeErrors: number;
  /**
   * Outcomes of performs a drain left running (they ignored their abort) that ended later, counted
   * by the runner holding their runner id then: `written` as the worker said, `fenced` (the job
   * was no longer that attempt: nothing written), `refused` (not written: rescued, attempt charged).
   */
  readonly lateOutcomes: { readonly written: number; readonly fenced: number; readonly refused: number };
  /** Enqueue (or scheduled time) → start, over the last 4096 starts. */
  readonly startLatencyMs: LatencySummary;
  /** Start → outcome recorded. */
  readonly durationMs: LatencySummary;
}

/** A ring of the last `size` samples. */
export class Reservoir {
  private readonly buf: number[] = [];
  private next = 0;
  private n = 0;
  private readonly size: number;
  constructor(size = 4096) {
    this.size = size;
  }
  add(v: number): void {
    if (this.buf.length < this.size) this.buf.push(v);
    else this.buf[this.next] = v;
    this.next = (this.next + 1) % this.size;
    this.n++;
  }
  summary(): LatencySummary {
    const s = [...this.buf].sort((a, b) => a - b);
    const at = (q: number): number => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor(q * s.length))]!);
    return { count: this.n, p50: at(0.5), p99: at(0.99), max: s.length ? s[s.length - 1]! : 0 };
  }
}

const esc = (s: string): string => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/**
 * Prometheus text exposition of {@link JobsMetrics} (`ordo_jobs_*`), for a `/metrics` endpoint.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { JobRunner, defineWorker, jobTables, jobsPrometheus } from 'ordo/jobs';
 *
 * const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: (args) => (console.log('mail to', args.to), { ok: true }) });
 * const env = createRealEnv();
 * const store = await openStore({ env, dir: './data/store', tables: jobTables() });
 * const runner = await JobRunner.start({ env, store, config: { workers: [mailer], queues: { mail: 10 } } });
 * process.stdout.write(jobsPrometheus(runner.metrics())); // a /metrics handler's body
 * await runner.stop();
 * await store.close();
 */
export function jobsPrometheus(m: JobsMetrics): string {
  const out: string[] = [];
  out.push('# HELP ordo_jobs Jobs in the store by queue and state.', '# TYPE ordo_jobs gauge');
  for (const [q, states] of Object.entries(m.jobs)) for (const [s, n] of Object.entries(states)) out.push(`ordo_jobs{queue="${esc(q)}",state="${s}"} ${n}`);
  out.push('# HELP ordo_jobs_started_total Attempts started on this node.', '# TYPE ordo_jobs_started_total counter', `ordo_jobs_started_total ${m.started}`);
  out.push('# HELP ordo_jobs_finished_total Attempts ended on this node, by resulting state.', '# TYPE ordo_jobs_finished_total counter');
  for (const [s, n] of Object.entries(m.finished)) out.push(`ordo_jobs_finished_total{state="${s}"} ${n}`);
  out.push('# TYPE ordo_jobs_rescued_total counter', `ordo_jobs_rescued_total ${m.rescued}`);
  out.push('# TYPE ordo_jobs_pruned_total counter', `ordo_jobs_pruned_total ${m.pruned}`);
  out.push('# TYPE ordo_jobs_cron_fired_total counter', `ordo_jobs_cron_fired_total ${m.cronFired}`);
  out.push('# TYPE ordo_jobs_store_errors_total counter', `ordo_jobs_store_errors_total ${m.storeErrors}`);
  out.push('# HELP ordo_jobs_late_outcomes_total Outcomes of performs a drain left running that ended later, by how their write ended.', '# TYPE ordo_jobs_late_outcomes_total counter');
  for (const [o, n] of Object.entries(m.lateOutcomes)) out.push(`ordo_jobs_late_outcomes_total{outcome="${o}"} ${n}`);
  for (const [name, s] of [['start_latency', m.startLatencyMs], ['duration', m.durationMs]] as const) {
    out.push(`# HELP ordo_jobs_${name}_ms ${name === 'duration' ? 'Start to outcome recorded' : 'Enqueue (or due time) to start'}, last 4096.`, `# TYPE ordo_jobs_${name}_ms summary`);
    out.push(`ordo_jobs_${name}_ms{quantile="0.5"} ${s.p50}`, `ordo_jobs_${name}_ms{quantile="0.99"} ${s.p99}`, `ordo_jobs_${name}_ms_count ${s.count}`);
  }
  return out.join('\n') + '\n';
}
