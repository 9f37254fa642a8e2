import type { Env } from '../env/index.ts';
import { CommandError, UsageError, parseFlags } from './args.ts';
import type { CliIo } from './io.ts';

const USAGE = `ordo — a supervision runtime modeled on Erlang/OTP

Usage: ordo <command> [options]

Commands:
  start    boot a tree (default: the reference tree) and show it live; Ctrl-C stops it in order
  tree     show the tree of an 'ordo start' on this machine (from its status file)
  health   read a running node's health endpoint
  replay   replay a documented incident both ways (as deployed, with Ordo)
  store    the table store's tools: info, export, import, backup, restore, repair
  chaos    run, sweep, replay and shrink chaos scenarios (deterministic simulation)
  jobs     a running node's jobs: list, retry, cancel, pause, resume
  help     this help

'ordo <command> --help' tells more.
`;

/** One command: its argv after the command name → exit code. Other lanes add theirs here (jobs, chaos, replay). */
export type Command = (argv: readonly string[], io: CliIo, options: MainOptions) => Promise<number>;

export interface MainOptions {
  /** The tree `ordo start` boots without --tree (bin/ordo.js points it at the reference tree). */
  defaultTree?: string;
  /** The incident catalogue module `ordo replay` loads (bin/ordo.js points it at examples/incidents). */
  incidents?: string;
  /** An Env to run in (tests); default a real one per command. */
  env?: Env;
}

// Each command's module loads when it runs: `ordo --help` loads none of them (start time).
const COMMANDS: Record<string, Command> = {
  start: async (argv, io, o) => (await import('./commands/start.ts')).startCommand(argv, io, o),
  tree: async (argv, io, o) => (await import('./commands/tree.ts')).treeCommand(argv, io, o),
  health: async (argv, io, o) => (await import('./commands/health.ts')).healthCommand(argv, io, o),
  replay: async (argv, io, o) => (await import('./commands/replay.ts')).replayCommand(argv, io, o),
  chaos: async (argv, io, o) => (await import('./chaos.ts')).chaosCommand(argv, io, o),
  jobs: async (argv, io, o) => (await import('./jobs.ts')).jobsCommand(argv, io, o),
  store: async (argv, io, o) => {
    const { flags } = parseFlags('store', argv, { dir: 'string', out: 'string', in: 'string', table: 'string', from: 'string', 'backup-dir': 'string', json: 'boolean' });
    const [{ createRealEnv }, { storeCommand }] = await Promise.all([import('../env/index.ts'), import('./store.ts')]);
    const env = o.env ?? createRealEnv({ level: 'warn', logTo: 'stderr' });
    const help = argv.length === 0 || flags['help'] === true;
    return storeCommand(help ? ['help'] : [...argv], env, (s) => io.out(s), (s) => io.err(s));
  },
};

/** The `ordo` command: dispatches to one command; errors are told once, on stderr. Returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}, io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    io.err(`ordo: unknown command '${command}'\n(see 'ordo --help')\n`);
    return 2;
  }
  try {
    return await run(rest, io, options);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`ordo ${e.command}: ${e.message}\n(see 'ordo ${e.command} --help')\n`);
      return 2;
    }
    if (e instanceof CommandError) {
      io.err(`ordo ${command}: ${e.message}\n`);
      return 1;
    }
    io.err(`ordo ${command}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

function processIo(): CliIo {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    isTTY: !!process.stdout.isTTY,
    vars: process.env,
  };
}
