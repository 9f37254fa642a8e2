/**
 * The runner's admin protocol — what `ordo jobs list | retry | cancel | pause | resume` sends —
 * as a pure handler, and its NATS responder (cluster mode: `ordo.jobs.<cluster>.admin`, a queue
 * group so one node answers; job operations are cluster-wide through the store anyway).
 */
import type { Env } from '../env/env.ts';
import type { ClusterConnection } from '../cluster/index.ts';
import type { JobRunner } from './runner.ts';
import type { Job, JobState } from './types.ts';
import { JOB_STATES } from './types.ts';

/** A request to a running node's job runner. */
export type JobsAdminRequest =
  | { readonly op: 'list'; readonly state?: JobState; readonly queue?: string; readonly limit?: number }
  | { readonly op: 'retry' | 'cancel'; readonly id: string }
  | { readonly op: 'pause' | 'resume'; readonly queue: string }
  | { readonly op: 'health' };

/** The answer: `ok: false` carries the reason (`not_found`, `final`, a typed error's code…). */
export type JobsAdminResponse =
  | { readonly ok: true; readonly jobs?: readonly Job[]; readonly was?: JobState; readonly health?: unknown; readonly node: string }
  | { readonly ok: false; readonly error: string; readonly message?: string; readonly node: string };

/** Subject of a cluster's admin requests. */
export const adminSubject = (cluster: string): string => `ordo.jobs.${cluster}.admin`;

/** Answers one admin request (never throws: failures are `ok: false`). */
export async function handleAdmin(runner: JobRunner, req: JobsAdminRequest): Promise<JobsAdminResponse> {
  const node = runner.node;
  try {
    switch (req?.op) {
      case 'list': {
        if (req.state !== undefined && !JOB_STATES.includes(req.state)) return { ok: false, error: 'bad_request', message: `unknown state ${req.state}`, node };
        return { ok: true, jobs: runner.list({ ...(req.state ? { state: req.state } : {}), ...(req.queue ? { queue: req.queue } : {}), limit: req.limit ?? 50 }), node };
      }
      case 'retry': {
        const r = await runner.retry(req.id);
        return r.ok ? { ok: true, node } : { ok: false, error: r.error, node };
      }
      case 'cancel': {
        const r = await runner.cancel(req.id);
        return r.ok ? { ok: true, was: r.was, node } : { ok: false, error: r.error, node };
      }
      case 'pause':
      case 'resume':
        await (req.op === 'pause' ? runner.pause(req.queue) : runner.resume(req.queue));
        return { ok: true, node };
      case 'health':
        return { ok: true, health: runner.health(), node };
      default:
        return { ok: false, error: 'bad_request', message: `unknown op ${JSON.stringify((req as { op?: unknown })?.op)}`, node };
    }
  } catch (err) {
    const e = err as { code?: string; message?: string };
    return { ok: false, error: e?.code ?? 'error', message: String(e?.message ?? err), node };
  }
}

/** Serves {@link handleAdmin} over NATS request/reply. Returns the unsubscribe. */
export function serveAdmin(env: Env, conn: ClusterConnection, cluster: string, runner: JobRunner): () => void {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const sub = conn.transport.subscribe(adminSubject(cluster), { queue: 'ordo-jobs-admin' }, (msg) => {
    let req: JobsAdminRequest;
    try {
      req = JSON.parse(dec.decode(msg.data)) as JobsAdminRequest;
    } catch {
      msg.respond(enc.encode(JSON.stringify({ ok: false, error: 'bad_request', message: 'not JSON', node: runner.node })));
      return;
    }
    void handleAdmin(runner, req).then((res) => {
      try {
        msg.respond(enc.encode(JSON.stringify(res)));
      } catch (e) {
        env.logger.warn({ report: 'jobs_admin', err: e }, 'could not answer an admin request');
      }
    });
  });
  return () => sub.unsubscribe();
}
