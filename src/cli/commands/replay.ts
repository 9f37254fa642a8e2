import { CommandError, UsageError, parseFlags, str } from '../args.ts';
import type { CliIo } from '../io.ts';
import { importModule } from '../loadModule.ts';
import { formatReplayTable, replayIncident, type Incident } from '../../chaos/incidents.ts';

export const REPLAY_USAGE = `Usage: ordo replay <incident> [options]
       ordo replay --list

Replays a documented incident (examples/incidents/) on the chaos engine: every step configured
as the app was deployed (it must fail on its documented seed) and the Ordo way (it must pass
every seed), then prints a table — step, as deployed (outcome, seed, time to failure), with Ordo
(seeds passed), mechanism. Exit code 0 when every step replayed as documented, 1 otherwise.

Options:
  --list       the incidents there are
  --seeds N    with-Ordo seeds per step (default 20)
  --json       print the rows as JSON instead of the table
  -h, --help   this help
`;

/** `ordo replay`: `incidents` loads the catalogue (bin/ordo.js points it at examples/incidents). */
export async function replayCommand(argv: readonly string[], io: CliIo, options: { incidents?: string }): Promise<number> {
  const { flags, positional } = parseFlags('replay', argv, { list: 'boolean', seeds: 'string', json: 'boolean' });
  if (flags['help']) {
    io.out(REPLAY_USAGE);
    return 0;
  }
  if (!options.incidents) throw new CommandError('no incident catalogue is configured (run it through the ordo command of a checkout)');
  const { incidents } = await importModule<{ incidents: readonly Incident[] }>(options.incidents, `the incident catalogue ${options.incidents}`);
  if (flags['list']) {
    for (const i of incidents) io.out(`${i.id}  ${i.title} (${i.steps.length} steps)\n`);
    return 0;
  }
  const id = positional[0];
  if (id === undefined) throw new UsageError('replay', 'which incident? (ordo replay --list)');
  if (positional.length > 1) throw new UsageError('replay', `unexpected argument '${positional[1]}'`);
  const incident = incidents.find((i) => i.id === id);
  if (!incident) throw new UsageError('replay', `no incident '${id}' (known: ${incidents.map((i) => i.id).join(', ')})`);
  const seedsFlag = str(flags, 'seeds');
  const seeds = seedsFlag === undefined ? 20 : Number(seedsFlag);
  if (!Number.isInteger(seeds) || seeds < 1) throw new UsageError('replay', `option '--seeds' must be an integer ≥ 1, got '${seedsFlag}'`);
  const bar = (done: number, total: number, step: string): void => {
    if (!io.isTTY) return;
    const width = 30;
    const filled = Math.round((done / total) * width);
    io.err(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} runs (${step})${done === total ? '\n' : ''}`);
  };
  const rows = await replayIncident(incident, { seeds, progress: bar });
  io.out(flags['json'] ? JSON.stringify(rows) + '\n' : formatReplayTable(incident, rows) + `\n${seeds} with-Ordo seeds per step.\n`);
  const ok = rows.every((r) => r.asDeployed.asDocumented && r.withOrdo.passed === r.withOrdo.seeds);
  return ok ? 0 : 1;
}
