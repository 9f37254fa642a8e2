import { OrdoError } from '../errors.ts';

/** A command-line mistake: printed once on stderr with the command's usage hint, exit code 2. */
export class UsageError extends OrdoError {
  readonly code = 'ORDO_CLI_USAGE' as const;
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A command that ran and failed (a start that failed, no running node): exit code 1. */
export class CommandError extends OrdoError {
  readonly code = 'ORDO_CLI_FAILED' as const;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'CommandError';
  }
}

/** The flags a command takes: name → kind. `help` is always accepted. */
export type FlagSpec = Readonly<Record<string, 'string' | 'boolean'>>;

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag`; refuses unknown flags and missing
 * values with a {@link UsageError}. `-h` is `--help`.
 *
 * @example
 * import { parseFlags } from './args.ts';
 *
 * const { flags, positional } = parseFlags('start', ['--data', './d', '--json', 'tree.ts'], { data: 'string', json: 'boolean' });
 * console.log(flags, positional); // { data: './d', json: true } [ 'tree.ts' ]
 */
export function parseFlags(command: string, argv: readonly string[], spec: FlagSpec): { flags: Record<string, string | true>; positional: string[] } {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') {
      flags['help'] = true;
      continue;
    }
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    if (!a.startsWith('--')) throw new UsageError(command, `unknown option '${a}'`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const kind = spec[name];
    if (!kind) throw new UsageError(command, `unknown option '--${name}'`);
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(command, `option '--${name}' takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(command, `option '--${name}' needs a value`);
    flags[name] = value;
  }
  return { flags, positional };
}

/** A string flag, or undefined. */
export function str(flags: Record<string, string | true>, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** A port flag: an integer in 0..65535, else a {@link UsageError}. */
export function portFlag(command: string, flags: Record<string, string | true>, name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(command, `option '--${name}' must be a port number (0-65535), got '${v}'`);
  return n;
}
