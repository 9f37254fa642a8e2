import { createRealEnv, type Env } from '../env/index.ts';
import { adminSubject, JOB_STATES, type Job, type JobsAdminRequest, type JobsAdminResponse, type JobState } from '../jobs/index.ts';
import { CommandError, UsageError, parseFlags, str } from './args.ts';
import type { CliIo } from './io.ts';

export const JOBS_USAGE = `Usage: ordo jobs <list|retry|cancel|pause|resume> [args] [options]

Talks to a running node's job runner over NATS request/reply (subject ordo.jobs.<cluster>.admin;
one node of the cluster answers — jobs, and a queue's paused flag, are cluster-wide in the store).
A single node without NATS shows its job counts with 'ordo jobs list --url http://host:port'
(its health endpoint's /tree); changing jobs needs NATS.

  ordo jobs list [--state S] [--queue Q] [--limit N]   jobs in lane order (default 50)
  ordo jobs retry ID                                    make a job available now
  ordo jobs cancel ID                                   cancel a job (a running one is aborted)
  ordo jobs pause QUEUE | resume QUEUE                  on every node, kept across restarts

Options:
  --nats URL[,URL]   NATS servers (env ORDO_NATS_URL)
  --cluster NAME     cluster name (default ordo)
  --url URL          a node's health endpoint (list only, no NATS)
  --json             print the answer as JSON
  -h, --help         this help
`;

function row(j: Job): string {
  const err = j.errors.length ? `  last error: ${j.errors[j.errors.length - 1]!.error}` : '';
  return `${j.id}  ${j.state.padEnd(10)} ${j.queue}/${j.worker}  attempt ${j.attempt}/${j.maxAttempts}${err}\n`;
}

/** `ordo jobs`. */
export async function jobsCommand(argv: readonly string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('jobs', argv, { nats: 'string', cluster: 'string', url: 'string', state: 'string', queue: 'string', limit: 'string', json: 'boolean' });
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
  const servers = (str(flags, 'nats') ?? io.vars['ORDO_NATS_URL'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (servers.length === 0) {
    if (url && op === 'list') return listFromEndpoint(env, io, url.replace(/\/+$/, ''), !!flags['json']);
    throw new UsageError('jobs', url ? `'${op}' needs NATS (--nats URL); --url only lists` : 'needs --nats URL (or ORDO_NATS_URL), or --url for a list from the health endpoint');
  }
  const connector = env.io.nats;
  if (!connector) throw new CommandError('this environment has no NATS connector');
  let nc;
  try {
    nc = await connector.connect({ servers, name: 'ordo-cli-jobs', timeout: 3000 });
  } catch (e) {
    throw new CommandError(`cannot reach NATS at ${servers.join(',')}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    const subject = adminSubject(str(flags, 'cluster') ?? 'ordo');
    let res: JobsAdminResponse;
    try {
      const msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(req)), { timeoutMs: 5000 });
      res = JSON.parse(new TextDecoder().decode(msg.data)) as JobsAdminResponse;
    } catch (e) {
      throw new CommandError(`no job runner answers on ${subject}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (flags['json']) io.out(JSON.stringify(res) + '\n');
    else if (!res.ok) io.err(`ordo jobs ${op}: ${res.error}${res.message ? `: ${res.message}` : ''} (node ${res.node})\n`);
    else if (op === 'list') io.out((res.jobs ?? []).map(row).join('') || 'no jobs\n');
    else io.out(`${op} ${arg}: ok${res.was ? ` (was ${res.was})` : ''} (node ${res.node})\n`);
    return res.ok ? 0 : 1;
  } finally {
    await nc.close();
  }
}

async function listFromEndpoint(env: Env, io: CliIo, base: string, json: boolean): Promise<number> {
  const http = env.io.http;
  if (!http) throw new CommandError('this environment has no http adapter');
  let res: { status: number; body: string };
  try {
    res = await http.get(`${base}/tree`, { timeoutMs: 3000 });
  } catch (e) {
    throw new CommandError(`no node answers at ${base}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const jobs = (JSON.parse(res.body) as { sources?: { jobs?: { jobs?: Record<string, Record<string, number>>; status?: string } } }).sources?.jobs;
  if (!jobs) throw new CommandError(`${base} runs no job runner`);
  if (json) io.out(JSON.stringify(jobs) + '\n');
  else {
    io.out(`runner ${jobs.status}\n`);
    for (const [q, states] of Object.entries(jobs.jobs ?? {})) io.out(`${q}: ${Object.entries(states).map(([s, n]) => `${s} ${n}`).join(', ') || 'empty'}\n`);
  }
  return 0;
}
