/**
 * From `000_…` ("The Danger: Dead Nodes and Data Loss", scenario 2, and "Production on
 * Fly.io"): the node name comes from the machine, and Fly gives a deploy a new machine. The
 * volume (`/data`) survives, so does the schema on it — which still expects the node by its old
 * name, a node that will never return.
 *
 * The deploy is two boots in one run: `deploy_1` boots on the first machine, `deploy_2` on the
 * machine the next deploy creates, both on the same volume (an in-memory fs on the run's clock).
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle, RunView } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import type { Env } from '../../../src/env/index.ts';
import type { IncidentStep } from '../../../src/chaos/incidents.ts';
import { createMemoryFs } from '../../../src/chaos/memoryFs.ts';
import { resolveNodeName } from '../../../src/cluster/nodeIdentity.ts';

const DATA = '/data';
/** Where the node's table copies are recorded on the volume (Mnesia's schema: `db_nodes`). */
const SCHEMA = `${DATA}/mnesia/schema.json`;

interface BootInput {
  readonly boot: number;
  readonly ordo: boolean;
  readonly env: Env;
  readonly probe: ScenarioContext['probe'];
  /** The machine id Fly assigned this boot's machine (a new one per deploy). */
  readonly machineId: string;
  /** Virtual time before this boot names the node (the deploy replacing the machine, then boot). */
  readonly delayMs: number;
}

/**
 * One boot: name the node, then join the schema kept on the volume (the node's name is added to
 * the table copies, as `:mnesia.change_table_copy_type(:schema, node(), :disc_copies)` does).
 */
const bootMachine = setup({
  types: { input: {} as BootInput, context: {} as { input: BootInput } },
  actors: {
    boot: fromPromise<void, BootInput>(async ({ input }) => {
      const { env, probe } = input;
      await new Promise<void>((r) => env.clock.setTimeout(() => r(), input.delayMs));
      const name = input.ordo ? await resolveNodeName(env, { dataDir: DATA }) : `blockster@${input.machineId}`;
      const fs = env.io.fs;
      const expected: string[] = (await fs.exists(SCHEMA)) ? (JSON.parse((await fs.readFile(SCHEMA)).toString('utf8')) as { disc_copies: string[] }).disc_copies : [];
      const next = expected.includes(name) ? expected : [...expected, name];
      await fs.mkdir(`${DATA}/mnesia`, { recursive: true });
      await fs.writeFileAtomic(SCHEMA, JSON.stringify({ disc_copies: next }));
      probe('node.boot', { boot: input.boot, machine: input.machineId, name, schema: next });
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'booting',
  states: {
    booting: { invoke: { src: 'boot', input: ({ context }) => context.input, onDone: 'up' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  // the volume: one file system for both boots (it survives the deploy; the machine does not)
  const env: Env = { ...ctx.env, io: { ...ctx.env.io, fs: createMemoryFs(() => ctx.env.clock.now()) } };
  const draw = ctx.random('fly');
  const machineId = (): string => Array.from({ length: 14 }, () => Math.floor(draw() * 16).toString(16)).join('');
  // boot 1: a few ms; boot 2: after the deploy destroyed the first machine (0.2–0.8 s)
  const boot = (n: number) => ({ boot: n, ordo, env, probe: ctx.probe, machineId: machineId(), delayMs: n === 1 ? 5 + Math.floor(draw() * 20) : 200 + Math.floor(draw() * 600) });
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'deploy_1', provides: 'deployed', start: { machine: bootMachine, input: boot(1) } },
      { id: 'deploy_2', requires: ['deployed'], start: { machine: bootMachine, input: boot(2) } },
    ],
  };
}

const boots = (trace: RunView['trace']): RunView['trace'] => trace.filter((e) => e.kind === 'node.boot');

/** After the second deploy, every node the schema expects is a node that is running. */
const noDeadNodeInSchema: Oracle = {
  name: 'noDeadNodeInSchema',
  description: 'after a redeploy, the schema expects no node that will never return',
  check(view) {
    const b = boots(view.trace);
    const last = b.at(-1);
    if (b.length < 2 || !last) return { ok: false, t: view.scenario.horizonMs, message: `the node booted ${b.length} times, not twice` };
    const dead = (last['schema'] as string[]).filter((n) => n !== last['name']);
    return dead.length === 0 ? { ok: true } : { ok: false, t: last.t, message: `the schema still expects ${dead.join(', ')} (the name before the deploy) next to ${String(last['name'])}` };
  },
};

/** Both boots named the node the same. */
const sameNameAcrossDeploys: Oracle = {
  name: 'sameNameAcrossDeploys',
  description: 'the node keeps its name across deploys',
  check(view) {
    const names = boots(view.trace).map((e) => e['name']);
    const last = boots(view.trace).at(-1);
    return new Set(names).size === 1 && names.length === 2 ? { ok: true } : { ok: false, t: last?.t ?? view.scenario.horizonMs, message: `the node was named ${names.map(String).join(', then ')}` };
  },
};

const invariants = [
  { kind: 'eventually', oracle: 'noDeadNodeInSchema' },
  { kind: 'eventually', oracle: 'sameNameAcrossDeploys' },
] as const;
export const asDeployed: Scenario = { name: 'mnesia-node-name/as-deployed', description: 'node name from the machine id: a new name on every deploy', tree: (ctx) => tree(ctx, false), horizonMs: 2000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'mnesia-node-name/with-ordo', description: 'node name persisted in the data dir (src/cluster/nodeIdentity.ts)', tree: (ctx) => tree(ctx, true), horizonMs: 2000, invariants, expect: 'pass' };

export const nodeName: IncidentStep = {
  id: 'nodeName',
  step: 'node name',
  title: 'A node name that changes on every deploy leaves a dead node in the schema',
  story:
    'On Fly.io each machine gets its own name (`blockster@<machine id>`) and a deploy replaces the machine while the volume stays. The schema on the volume still lists `node1@machine-abc` after the node comes back as `node1@machine-xyz`: "in schema but will never come back" — and every later migration of a table with a copy there is blocked (see the dead-node step).',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'noDeadNodeInSchema',
  mechanism:
    'Stable node identity (src/cluster/nodeIdentity.ts): the name is never derived from the machine id or hostname; a generated name is persisted in the data dir and reused on every boot, so the node that comes back after a deploy is the node the cluster knew.',
  oracles: { noDeadNodeInSchema, sameNameAcrossDeploys },
};
