import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRealEnv, type Env } from '../../env/index.ts';
import type { SupervisorSpec } from '../../supervisor/index.ts';
import { importModule } from '../loadModule.ts';
import { CommandError, UsageError, parseFlags, portFlag, str } from '../args.ts';
import type { CliIo } from '../io.ts';
import { runStart } from '../runStart.ts';

export const START_USAGE = `Usage: ordo start [options]

Boots a supervisor tree and shows it live; Ctrl-C (SIGINT) or SIGTERM stops it in reverse order.
Without --tree, the reference tree: cluster discovery → leader → store → replication → caches →
health endpoint, one node with data in ./data (no NATS needed).

Options:
  --tree MODULE   a module exporting tree(options) → SupervisorSpec (default: the reference tree)
  --data DIR      data directory (env ORDO_DATA_DIR, default ./data)
  --nats URLS     NATS servers, comma-separated: clustered (env ORDO_NATS_URL)
  --node NAME     stable node name (env ORDO_NODE_NAME)
  --replicas N    copies of each NATS stream/bucket, 1-5 or auto (env ORDO_REPLICAS; default auto:
                  3 on a cluster of 3+ servers, else 1)
  --port N        health endpoint port (env ORDO_HTTP_PORT, default 8080)
  --name NAME     application name (default ordo)
  --json          print only JSON log lines (no tree)
  -h, --help      this help
`;

/** What a tree module is called with. */
export interface TreeModuleOptions {
  env: Readonly<Record<string, string | undefined>>;
  dataDir?: string;
  nats?: string[];
  nodeName?: string;
  /** `--replicas`: copies of each stream and bucket (`'auto'`: 3 on a 3+ server cluster, else 1). */
  replicas?: number | 'auto';
  httpPort?: number;
}

/** `ordo start`. */
export async function startCommand(argv: readonly string[], io: CliIo, options: { defaultTree?: string; env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('start', argv, { tree: 'string', data: 'string', nats: 'string', node: 'string', replicas: 'string', port: 'string', name: 'string', json: 'boolean' });
  if (flags['help']) {
    io.out(START_USAGE);
    return 0;
  }
  if (positional.length > 0) throw new UsageError('start', `unexpected argument '${positional[0]}'`);
  const port = portFlag('start', flags, 'port');
  const r = str(flags, 'replicas');
  const replicas = r === undefined ? undefined : r === 'auto' ? ('auto' as const) : Number(r);
  if (replicas !== undefined && replicas !== 'auto' && !(Number.isInteger(replicas) && replicas >= 1 && replicas <= 5)) {
    throw new UsageError('start', `--replicas must be an integer from 1 to 5 or 'auto' (got '${r}')`);
  }
  const json = flags['json'] === true;
  const moduleRef = str(flags, 'tree') ?? options.defaultTree;
  if (!moduleRef) throw new UsageError('start', 'no tree: give --tree MODULE');
  const treeOptions: TreeModuleOptions = {
    env: io.vars,
    ...(str(flags, 'data') !== undefined ? { dataDir: str(flags, 'data')! } : {}),
    ...(str(flags, 'nats') !== undefined ? { nats: str(flags, 'nats')!.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(str(flags, 'node') !== undefined ? { nodeName: str(flags, 'node')! } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(port !== undefined ? { httpPort: port } : {}),
  };
  const tree = await loadTree(moduleRef, treeOptions);
  const dataDir = str(flags, 'data') ?? (io.vars['ORDO_DATA_DIR'] || './data');
  const env = options.env ?? createRealEnv({ level: json ? 'info' : 'warn', logTo: json ? 'stdout' : 'stderr' });
  const { code } = await runStart({
    env,
    name: str(flags, 'name') ?? 'ordo',
    tree,
    dataDir,
    json,
    out: { write: (s) => io.out(s), isTTY: io.isTTY && !json },
    err: { write: (s) => io.err(s) },
  });
  return code;
}

/** Imports a tree module (a path, relative to the working directory, or a URL) and calls its `tree` export. */
export async function loadTree(ref: string, options: TreeModuleOptions): Promise<SupervisorSpec> {
  const url = /^[a-z]+:\/\//.test(ref) || ref.startsWith('file:') ? ref : pathToFileURL(resolve(ref)).href;
  const mod = await importModule<{ tree?: unknown; default?: unknown }>(url, `the tree module ${ref}`);
  const make = mod.tree ?? mod.default;
  if (typeof make !== 'function') throw new CommandError(`the tree module ${ref} exports no tree(options) function`);
  return (make as (o: TreeModuleOptions) => SupervisorSpec)(options);
}
