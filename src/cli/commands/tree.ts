import { createRealEnv, type Env } from '../../env/index.ts';
import type { ApplicationHealth } from '../../supervisor/index.ts';
import { CommandError, UsageError, parseFlags, str } from '../args.ts';
import type { CliIo } from '../io.ts';
import { renderTree, timeOf } from '../renderTree.ts';

export const TREE_USAGE = `Usage: ordo tree [options]

Shows the tree of an 'ordo start' on this machine, from its status file (<data>/ordo-tree.json),
including its final state after it stopped.

Options:
  --data DIR   data directory of the running node (env ORDO_DATA_DIR, default ./data)
  --watch      redraw every half second
  --json       print the status file's JSON
  -h, --help   this help
`;

/** `ordo tree`. */
export async function treeCommand(argv: readonly string[], io: CliIo, options: { env?: Env } = {}): Promise<number> {
  const { flags, positional } = parseFlags('tree', argv, { data: 'string', watch: 'boolean', json: 'boolean' });
  if (flags['help']) {
    io.out(TREE_USAGE);
    return 0;
  }
  if (positional.length > 0) throw new UsageError('tree', `unexpected argument '${positional[0]}'`);
  const env = options.env ?? createRealEnv({ level: 'warn', logTo: 'stderr' });
  const file = `${str(flags, 'data') ?? (io.vars['ORDO_DATA_DIR'] || './data')}/ordo-tree.json`;
  const show = async (): Promise<void> => {
    if (!(await env.io.fs.exists(file))) throw new CommandError(`no tree found: ${file} is missing (start one with 'ordo start')`);
    const text = (await env.io.fs.readFile(file)).toString('utf8');
    if (flags['json']) {
      io.out(JSON.stringify(JSON.parse(text)) + '\n');
      return;
    }
    const { at, health } = JSON.parse(text) as { at: number; health: ApplicationHealth };
    io.out((flags['watch'] && io.isTTY ? '\x1b[2J\x1b[H' : '') + renderTree(health, { color: io.isTTY }) + `\n(as of ${timeOf(at)})\n`);
  };
  if (!flags['watch']) {
    await show();
    return 0;
  }
  for (;;) {
    await show();
    await new Promise<void>((r) => env.clock.setTimeout(() => r(), 500));
  }
}
