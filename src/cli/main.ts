import { createRealEnv, type Env } from '../env/index.ts';
import { runStart } from './start.ts';
import { renderTree } from './renderTree.ts';
import type { ApplicationHealth } from '../supervisor/index.ts';
import { demoTree } from '../../examples/demo/tree.ts';
import { storeCommand } from './store.ts';

const USAGE = `ordo — a supervision runtime modeled on Erlang/OTP

Usage:
  ordo start [--data DIR] [--once] [--json]   boot the demo tree (live tree; Ctrl-C stops it in order)
  ordo start --nats URL[,URL] [--data DIR]    the same tree, clustered over NATS (membership, leader, replication)
  ordo tree  [--data DIR] [--watch]           show the live tree of a running 'ordo start'
  ordo store info|export|import|backup|restore|repair   the table store's tools ('ordo store' for details)
  ordo help
`;

/** Parses `--flag value` and `--flag` options. */
export function parseArgs(argv: string[]): { positional: string[]; flags: Record<string, string | true> } {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--') && ['data', 'seed', 'nats'].includes(a.slice(2))) {
        flags[a.slice(2)] = next;
        i++;
      } else flags[a.slice(2)] = true;
    } else positional.push(a);
  }
  return { positional, flags };
}

/** The `ordo` command. Returns the exit code. */
export async function main(argv: string[], envIn?: Env): Promise<number> {
  const { positional, flags } = parseArgs(argv);
  const command = positional[0] ?? 'help';
  const dataDir = typeof flags['data'] === 'string' ? flags['data'] : './data';
  const tty = !!process.stdout.isTTY && !flags['json'];
  switch (command) {
    case 'start': {
      const env = envIn ?? createRealEnv({ pretty: false, level: tty ? 'silent' : 'info' });
      const nats = typeof flags['nats'] === 'string' ? flags['nats'].split(',') : undefined;
      const { code } = await runStart({ env, name: 'demo', tree: demoTree({ dataDir, nats }), dataDir, out: { write: (s) => process.stdout.write(s), isTTY: tty }, once: !!flags['once'] });
      return code;
    }
    case 'tree': {
      const env = envIn ?? createRealEnv({ level: 'warn' });
      const show = async (): Promise<boolean> => {
        const file = `${dataDir}/ordo-tree.json`;
        if (!(await env.io.fs.exists(file))) {
          process.stdout.write(`no running tree found (${file} is missing): start one with 'ordo start'\n`);
          return false;
        }
        const { health } = JSON.parse((await env.io.fs.readFile(file)).toString('utf8')) as { health: ApplicationHealth };
        process.stdout.write((flags['watch'] && tty ? '\x1b[2J\x1b[H' : '') + renderTree(health, { color: tty }) + '\n');
        return true;
      };
      if (!flags['watch']) return (await show()) ? 0 : 1;
      for (;;) {
        await show();
        await new Promise<void>((r) => env.clock.setTimeout(() => r(), 500));
      }
    }
    case 'store':
      return storeCommand(argv.slice(argv.indexOf('store') + 1), envIn ?? createRealEnv({ level: 'warn' }));
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stdout.write(`unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}
