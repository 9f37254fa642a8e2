import { join } from 'node:path';

/** The `ordo` command from the source (what `bin/ordo.js` runs compiled): node args before the CLI's. */
export const ordoSource: readonly string[] = ['--import', 'tsx', '--conditions=ordo-source', join(import.meta.dirname, '..', '..', 'src', 'cli', 'bin.ts')];

/** `process.execPath` arguments that run `ordo <args>` from the source. */
export function ordoArgs(args: readonly string[]): string[] {
  return [...ordoSource, ...args];
}
