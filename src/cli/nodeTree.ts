import type { Env } from '../env/index.ts';
import { CommandError } from './args.ts';

/**
 * `GET <base>/tree` of a running node (its health endpoint), parsed: what `ordo health` and
 * `ordo jobs list --url` read. A node that does not answer, answers with another status or with
 * a body that is not JSON is a {@link CommandError} naming the URL (exit 1), never a crash.
 */
export async function fetchTree(env: Env, base: string): Promise<unknown> {
  const http = env.io.http;
  if (!http) throw new CommandError('this environment has no http adapter');
  let res: { status: number; body: string };
  try {
    res = await http.get(`${base}/tree`, { timeoutMs: 3000 });
  } catch (e) {
    throw new CommandError(`no node answers at ${base}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (res.status !== 200) throw new CommandError(`${base}/tree answered ${res.status}`);
  try {
    return JSON.parse(res.body) as unknown;
  } catch (e) {
    throw new CommandError(`${base}/tree did not answer JSON: ${res.body.slice(0, 80)}`, { cause: e });
  }
}
