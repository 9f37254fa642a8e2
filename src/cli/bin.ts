/**
 * The `ordo` process entry: runs {@link main} with the command line and sets the exit code.
 * `bin/ordo.js` loads the compiled copy of this file; the repository's tests run the source.
 * In a checkout of the repository `ordo start` boots the demo tree when no `--tree` is given.
 */
import { fileURLToPath } from 'node:url';
import { createRealFs } from '../env/index.ts';
import { main } from './main.ts';

const demo = fileURLToPath(new URL('../../examples/demo/tree.ts', import.meta.url));
const code = await main(process.argv.slice(2), undefined, (await createRealFs().exists(demo)) ? { defaultTree: demo } : {});
process.exitCode = code;
