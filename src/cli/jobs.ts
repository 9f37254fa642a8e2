import { createRealEnv, type Env } from '../env/index.ts';
import { ADMIN_ROUTE, adminSocketPath, adminSubject, JOB_STATES, type Job, type JobsAdminRequest, type JobsAdminResponse, type JobState } from '../jobs/index.ts';
import { CommandError, UsageError, parseFlags, str } from './args.ts';
import type { CliIo } from './io.ts';
import { fetchTree } from './nodeTree.ts';

export const JOBS_USAGE = `Usage: ordo jobs <list|retry|cancel|pause|resume> [args] [options]

Talks to a running node's job runner:
- on this machine (the default): over the node's unix socket <data>/ordo-jobs.sock (HTTP/JSON,
  mode 0600: only the node's user). Works on the embedded single node without NATS; in
  Kubernetes: kubectl exec <pod> -- ordo jobs list --data /data.
- with --nats (or ORDO_NATS_URL, unless --data is given): over NATS request/reply (subject
  ordo.jobs.<cluster>.admin); one node of the cluster answers.
Jobs, and a queue's paused flag, are cluster-wide in the store: any node will do.

  ordo jobs list [--state S] [--queue Q] [--limit N]   jobs in lane order (default 50)
  ordo jobs retry ID                                    make a job available now
  ordo jobs cancel ID                                   cancel a job (a running one is aborted)
  ordo jobs pause QUEUE | resume QUEUE                  on every node, kept across restarts

Options:
  --data DIR         data directory of the node on this machine (env ORDO_DATA_DIR, default ./data)
  --nats URL[,URL]   NATS servers (env ORDO_NATS_URL)
  --cluster NAME     cluster name (default ordo)
  --url URL          list only: job counts from a node's health endpoint (/tree)
  --json             print the answer as JSON
  -h, --help         this help

Exit codes: 0 done; 1 refused (no such job, a final job…) or no node reached; 2 bad usage.
`;

function row(j: Job): string {
  const err = j.errors.length ? `  last error: ${j.errors[j.errors.length - 1]!.error}` : '';
  return `${j.id}  ${j.state.padEnd(10)} ${j.queue}/${j.worker}  attempt ${j.attempt}/${j.maxAttempts}${err}\n`;
}

/** `ordo jobs`. */
export async function jobsCommand(argv: readonly string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('jobs', argv, { data: 'string', nats: 'string', cluster: 'string', url: 'string', state: 'string', queue: 'string', limit: 'string', json: 'boolean' });
  const [op, arg] = positional;
  if (flags['help'] || op === undefined) {
    io.out(JOBS_USAGE);
    return op === undefined && !flags['help'] ? 2 : 0;
  }
  let req: JobsAdminRequest;
  if (op === 'list') {
    const state = str(flags, 'state');
    if (state !== undefined && !JOB_STATES.includes(state as JobState)) throw new UsageError('jobs', `unknown state '${state}' (states: ${JOB_STATES.join(', ')})`);
    const limit = str(flags, 'limit');
    if (limit !== undefined && !(Number.isInteger(Number(limit)) && Number(limit) > 0)) throw new UsageError('jobs', `--limit must be a positive integer (got '${limit}')`);
    req = { op, ...(state ? { state: state as JobState } : {}), ...(str(flags, 'queue') ? { queue: str(flags, 'queue')! } : {}), ...(limit ? { limit: Number(limit) } : {}) };
  } else if (op === 'retry' || op === 'cancel') {
    if (!arg) throw new UsageError('jobs', `${op} needs a job id`);
    req = { op, id: arg };
  } else if (op === 'pause' || op === 'resume') {
    if (!arg) throw new UsageError('jobs', `${op} needs a queue name`);
    req = { op, queue: arg };
  } else throw new UsageError('jobs', `unknown subcommand '${op}'`);
  const env = options.env ?? createRealEnv({ level: 'warn', logTo: 'stderr' });
  const url = str(flags, 'url');
  const json = !!flags['json'];
  if (url) {
    if (op !== 'list') throw new UsageError('jobs', `--url only lists; '${op}' goes over the admin socket (--data) or NATS (--nats)`);
    return listFromEndpoint(env, io, url.replace(/\/+$/, ''), json);
  }
  const data = str(flags, 'data');
  const servers = (str(flags, 'nats') ?? (data === undefined ? io.vars['ORDO_NATS_URL'] : undefined) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const res = servers.length > 0 ? await overNats(env, servers, str(flags, 'cluster') ?? 'ordo', req) : await overSocket(env, adminSocketPath(data ?? (io.vars['ORDO_DATA_DIR'] || './data')), req);
  if (json) io.out(JSON.stringify(res) + '\n');
  else if (!res.ok) io.err(`ordo jobs ${op}: ${res.error}${res.message ? `: ${res.message}` : ''} (node ${res.node})\n`);
  else if (op === 'list') io.out((res.jobs ?? []).map(row).join('') || 'no jobs\n');
  else io.out(`${op} ${arg}: ok${res.was ? ` (was ${res.was})` : ''} (node ${res.node})\n`);
  return res.ok ? 0 : 1;
}

async function overSocket(env: Env, socketPath: string, req: JobsAdminRequest): Promise<JobsAdminResponse> {
  const http = env.io.http;
  if (!http?.send) throw new CommandError('this environment has no http adapter');
  let res: { status: number; body: string };
  try {
    res = await http.send(`http://localhost${ADMIN_ROUTE}`, { method: 'POST', body: JSON.stringify(req), socketPath, timeoutMs: 10_000 });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === 'ENOENT' ? `${socketPath} does not exist` : code === 'ECONNREFUSED' ? `${socketPath} is left by a node that is not running` : e instanceof Error ? e.message : String(e);
    throw new CommandError(`no running node answers on ${socketPath}: ${why} (start one with 'ordo start --data DIR', give its --data, or --nats for a cluster)`, { cause: e });
  }
  try {
    return JSON.parse(res.body) as JobsAdminResponse;
  } catch (e) {
    throw new CommandError(`${socketPath} answered ${res.status} with something that is not the admin protocol: ${res.body.slice(0, 200)}`, { cause: e });
  }
}

async function overNats(env: Env, servers: readonly string[], cluster: string, req: JobsAdminRequest): Promise<JobsAdminResponse> {
  const connector = env.io.nats;
  if (!connector) throw new CommandError('this environment has no NATS connector');
  let nc;
  try {
    nc = await connector.connect({ servers: [...servers], name: 'ordo-cli-jobs', timeout: 3000 });
  } catch (e) {
    throw new CommandError(`cannot reach NATS at ${servers.join(',')}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    const subject = adminSubject(cluster);
    try {
      const msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(req)), { timeoutMs: 5000 });
      return JSON.parse(new TextDecoder().decode(msg.data)) as JobsAdminResponse;
    } catch (e) {
      throw new CommandError(`no job runner answers on ${subject}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  } finally {
    await nc.close();
  }
}

async function listFromEndpoint(env: Env, io: CliIo, base: string, json: boolean): Promise<number> {
  const tree = await fetchTree(env, base);
  const jobs = (tree as { sources?: { jobs?: { jobs?: Record<string, Record<string, number>>; status?: string } } } | null)?.sources?.jobs;
  if (!jobs) throw new CommandError(`${base} runs no job runner`);
  if (json) io.out(JSON.stringify(jobs) + '\n');
  else {
    io.out(`runner ${jobs.status}\n`);
    for (const [q, states] of Object.entries(jobs.jobs ?? {})) io.out(`${q}: ${Object.entries(states).map(([s, n]) => `${s} ${n}`).join(', ') || 'empty'}\n`);
  }
  return 0;
}
