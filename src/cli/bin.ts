/**
 * The `ordo` process entry: runs {@link main} with the command line and exits with its code.
 * `bin/ordo.js` loads the compiled copy of this file; the repository's tests run the source.
 * `ordo start` without `--tree` boots the reference tree (`examples/boot/tree.ts`) when it is
 * there, i.e. in a checkout of the repository; the published package has no default tree. So
 * with `ordo replay` and the incident catalogue (`examples/incidents/index.ts`).
 */
import { fileURLToPath } from 'node:url';
import { createRealFs } from '../env/fs.ts';
import { main } from './main.ts';

const reference = new URL('../../examples/boot/tree.ts', import.meta.url);
const defaultTree = (await createRealFs().exists(fileURLToPath(reference))) ? reference.href : undefined;
const catalogue = new URL('../../examples/incidents/index.ts', import.meta.url);
const incidents = (await createRealFs().exists(fileURLToPath(catalogue))) ? catalogue.href : undefined;
const code = await main(process.argv.slice(2), { ...(defaultTree !== undefined ? { defaultTree } : {}), ...(incidents !== undefined ? { incidents } : {}) });
// exit once stdout has drained: the tree has stopped, nothing is left to wait for
process.stdout.write('', () => process.exit(code));
