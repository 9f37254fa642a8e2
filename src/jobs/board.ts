import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import type { JobRunner } from './runner.ts';

/**
 * Follows the current {@link JobRunner} across restarts of its child (the health endpoint does
 * not depend on it) and offers it to the health endpoint as a source: `health()` for `/tree` and
 * `/health/ready`, `metrics(registry)` for `/metrics` (`ordo_jobs{queue,state}`, counters and
 * latency quantiles). Structurally a `HealthSource` of `ordo/health`.
 *
 * @example
 * import { JobsBoard, defineWorker, jobRunnerChild } from 'ordo/jobs';
 *
 * const mailer = defineWorker<{ to: string }>({ name: 'mailer', queue: 'mail', perform: (args) => (console.log('mail to', args.to), { ok: true }) });
 * const board = new JobsBoard();
 * const jobs = jobRunnerChild({ config: { workers: [mailer], queues: { mail: 10 } }, select: board.track }); // provides the runner and records it
 * const healthSources = [board.source()]; // for the health endpoint's `sources` (examples/boot/tree.ts)
 * console.log(jobs.id, healthSources[0]?.name); // jobs jobs
 */
export class JobsBoard {
  private runner: JobRunner | undefined;

  /** A `provides.select` for the runner child: records and returns the runner. */
  readonly track = (snapshot: unknown): JobRunner => {
    const r = (snapshot as { context: { service: JobRunner } }).context.service;
    this.runner = r;
    return r;
  };

  /** The runner of the current incarnation, if started. */
  current(): JobRunner | undefined {
    return this.runner;
  }

  /** A health/metrics source for the health endpoint. */
  source(name = 'jobs'): { name: string; health(): Record<string, unknown>; metrics(registry: Registry): void } {
    return {
      name,
      health: () => {
        const r = this.runner;
        if (!r) return { status: 'starting' };
        const m = r.metrics();
        return { ...r.health(), jobs: m.jobs, startLatencyMs: m.startLatencyMs, durationMs: m.durationMs };
      },
      metrics: (registry) => {
        const board = this;
        const gauge = (n: string, help: string, labelNames: string[], fill: (g: Gauge, r: JobRunner) => void): void => {
          new Gauge({
            name: n,
            help,
            labelNames,
            registers: [registry],
            collect() {
              this.reset();
              const r = board.runner;
              if (r) fill(this, r);
            },
          });
        };
        gauge('ordo_jobs', 'Jobs in the store by queue and state.', ['queue', 'state'], (g, r) => {
          for (const [queue, states] of Object.entries(r.metrics().jobs)) for (const [state, n] of Object.entries(states)) g.set({ queue, state }, n);
        });
        gauge('ordo_jobs_finished', 'Attempts ended on this node since start, by resulting state.', ['state'], (g, r) => {
          for (const [state, n] of Object.entries(r.metrics().finished)) g.set({ state }, n);
        });
        gauge('ordo_jobs_late_outcomes', 'Outcomes of performs a drain left running that ended later, by how their write ended (written, fenced, refused), since this runner started.', ['outcome'], (g, r) => {
          for (const [outcome, n] of Object.entries(r.metrics().lateOutcomes)) g.set({ outcome }, n);
        });
        gauge('ordo_jobs_start_latency_ms', 'Enqueue (or due time) to start, last 4096 starts.', ['quantile'], (g, r) => {
          const s = r.metrics().startLatencyMs;
          g.set({ quantile: '0.5' }, s.p50);
          g.set({ quantile: '0.99' }, s.p99);
        });
        gauge('ordo_jobs_running', 'Performs running on this node by queue.', ['queue'], (g, r) => {
          for (const [queue, q] of Object.entries(r.health().queues)) g.set({ queue }, q.running);
        });
      },
    };
  }
}
