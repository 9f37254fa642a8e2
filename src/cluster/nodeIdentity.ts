import type { Env } from '../env/env.ts';
import { ClusterConfigError } from './errors.ts';
import { validateName } from './config.ts';

/** File (in the data dir) where a generated node name is kept across restarts and deploys. */
export const NODE_NAME_FILE = 'ordo-node-name';

function hex(env: Env, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += env.random.int(256).toString(16).padStart(2, '0');
  return s;
}

/**
 * The node's stable name: `config.nodeName` when given, else the name persisted in
 * `dataDir/ordo-node-name`, else a new random name written there (atomically) for next time.
 * Never derived from the machine id or hostname: those change on each deploy (seed `000_…`:
 * Mnesia's schema was keyed by a node name that changed with every machine).
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { resolveNodeName } from 'ordo/cluster';
 *
 * const env = createRealEnv();
 * const name = await resolveNodeName(env, { dataDir: './data' }); // generated once, kept in ./data
 * console.log(name === (await resolveNodeName(env, { dataDir: './data' }))); // true: same on every boot
 */
export async function resolveNodeName(env: Env, opts: { nodeName?: string; dataDir?: string }): Promise<string> {
  if (opts.nodeName !== undefined) return validateName('nodeName', opts.nodeName);
  if (opts.dataDir === undefined) throw new ClusterConfigError('either nodeName or dataDir is required to name this node', { value: opts });
  const file = `${opts.dataDir}/${NODE_NAME_FILE}`;
  if (await env.io.fs.exists(file)) {
    const name = (await env.io.fs.readFile(file)).toString('utf8').trim();
    return validateName(`node name in ${file}`, name);
  }
  await env.io.fs.mkdir(opts.dataDir, { recursive: true });
  const name = `node-${hex(env, 6)}`;
  await env.io.fs.writeFileAtomic(file, `${name}\n`);
  return name;
}

/** A fresh incarnation id for this boot: distinguishes a restarted node from its previous life. */
export function newIncarnation(env: Env): string {
  return `${Math.floor(env.clock.now()).toString(36)}-${hex(env, 6)}`;
}
