#!/usr/bin/env node
// The `ordo` command. Ordo ships TypeScript sources; tsx compiles them on load.
// `ordo start` without --tree boots the reference tree (examples/boot/tree.ts).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const defaultTree = new URL('../examples/boot/tree.ts', import.meta.url).href;
const code = await main(process.argv.slice(2), { defaultTree });
// exit once stdout has drained: the tree has stopped, nothing is left to wait for
process.stdout.write('', () => process.exit(code));
