/**
 * The runner's admin protocol — what `ordo jobs list | retry | cancel | pause | resume` sends —
 * as a pure handler, and its two transports:
 * - a unix socket under the node's data directory (`<data>/ordo-jobs.sock`, HTTP/JSON like the
 *   Docker Engine API on `docker.sock`; mode 0600): the local control channel, on every node
 *   including the embedded single node without NATS. Only the node's user can reach it, it is
 *   never on the network (the health port is often exposed to probes and scrapers, and these
 *   routes change jobs), and in Kubernetes `kubectl exec <pod> -- ordo jobs …` reaches it;
 * - NATS request/reply in cluster mode (`ordo.jobs.<cluster>.admin`, a queue group so one node
 *   answers; job operations are cluster-wide through the store anyway).
 */
import type { Env } from '../env/env.ts';
import type { HttpResponse, HttpServerHandle } from '../env/index.ts';
import { JobsConfigError } from './errors.ts';
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

/** The admin socket's file name under a node's data directory. */
export const ADMIN_SOCKET = 'ordo-jobs.sock';

/** The admin socket of the node whose data directory is `dataDir`. */
export const adminSocketPath = (dataDir: string): string => `${dataDir.replace(/\/+$/, '') || '.'}/${ADMIN_SOCKET}`;

/** The admin route on the socket: `POST /v1/jobs` with a {@link JobsAdminRequest} as JSON. */
export const ADMIN_ROUTE = '/v1/jobs';

const STATUS: Readonly<Record<string, number>> = { not_found: 404, bad_request: 400, error: 500 };

function reply(res: JobsAdminResponse): HttpResponse {
  const status = res.ok ? 200 : (STATUS[res.error] ?? 409);
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(res) + '\n' };
}

/**
 * Serves {@link handleAdmin} on the unix socket `path` (`POST /v1/jobs`; 200, or 400/404/409
 * with `ok: false` and the reason). A socket file left by a dead process is replaced; one a
 * live process serves is refused (`EADDRINUSE`).
 */
export async function serveAdminSocket(env: Env, path: string, runner: JobRunner): Promise<HttpServerHandle> {
  const http = env.io.http;
  if (!http) throw new JobsConfigError('adminSocket', path, 'this Env has no http adapter');
  return http.listen({ path }, async (req) => {
    const node = runner.node;
    if (req.url !== ADMIN_ROUTE) return reply({ ok: false, error: 'not_found', message: `no route ${req.url} (POST ${ADMIN_ROUTE})`, node });
    if (req.method !== 'POST') return { ...reply({ ok: false, error: 'bad_request', message: `${req.method}: use POST`, node }), status: 405 };
    let body: JobsAdminRequest;
    try {
      body = JSON.parse(req.body ?? '') as JobsAdminRequest;
    } catch {
      return reply({ ok: false, error: 'bad_request', message: 'the body is not JSON', node });
    }
    return reply(await handleAdmin(runner, body));
  });
}
