import { createRealEnv, type Env } from '../../env/index.ts';
import type { ApplicationHealth } from '../../supervisor/index.ts';
import { CommandError, UsageError, parseFlags, portFlag, str } from '../args.ts';
import type { CliIo } from '../io.ts';
import { renderTree } from '../renderTree.ts';
import { fetchTree } from '../nodeTree.ts';

export const HEALTH_USAGE = `Usage: ordo health [options]

Reads a running node's health endpoint (/tree) and shows its tree. Exit code 0 when the node is
ready, 1 when it is not (starting, degraded, stopping) or cannot be reached.

Options:
  --url URL    the endpoint (default http://127.0.0.1:<port>)
  --port N     its port (env ORDO_HTTP_PORT, default 8080)
  --json       print the endpoint's JSON
  -h, --help   this help
`;

/** `ordo health`. */
export async function healthCommand(argv: readonly string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('health', argv, { url: 'string', port: 'string', json: 'boolean' });
  if (flags['help']) {
    io.out(HEALTH_USAGE);
    return 0;
  }
  if (positional.length > 0) throw new UsageError('health', `unexpected argument '${positional[0]}'`);
  const env = options.env ?? createRealEnv({ level: 'warn', logTo: 'stderr' });
  const port = portFlag('health', flags, 'port') ?? (io.vars['ORDO_HTTP_PORT'] ? Number(io.vars['ORDO_HTTP_PORT']) : 8080);
  const base = (str(flags, 'url') ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');
  const health = (await fetchTree(env, base)) as ApplicationHealth;
  io.out(flags['json'] ? JSON.stringify(health) + '\n' : renderTree(health, { color: io.isTTY }) + '\n');
  return health.status === 'ready' ? 0 : 1;
}
