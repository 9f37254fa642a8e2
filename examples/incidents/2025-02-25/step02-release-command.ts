/**
 * Step 2 — the release command (`/app/bin/migrate`) runs on an ephemeral machine that has no
 * volume: `/data` does not exist. It crashed every time within ~1 s with an opaque
 * `(EXIT from #PID<0.98.0>) shutdown`; the fix was to comment the release command out.
 */
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { Oracle } from '../../../src/chaos/oracles.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import type { IncidentStep } from './kit.ts';

const DIR = '/data/store';
const TABLES = { user_post_rewards: { type: 'set', key: 'user_id', attributes: { user_id: { type: 'string' }, bux: { type: 'integer', default: 0 } } } } as const;

/** The release command: open the store and migrate it (no readers, a one-shot tree). */
function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  return {
    strategy: 'one_for_one',
    maxRestarts: 0,
    periodMs: 1000,
    children: [{ id: 'migrate', restart: 'temporary', start: { machine: storeInitializerMachine, name: 'migrate', input: { env: ctx.env, dir: DIR, tables: TABLES, ...(ordo ? { expectExisting: true } : {}) } } }],
  };
}

/** No store was created where none existed: an empty store on an ephemeral disk is data loss waiting to be believed. */
const noFreshStore: Oracle = {
  name: 'noFreshStore',
  description: 'no empty store is created where the data directory is missing',
  check(view) {
    const created = [...view.disk.keys()].find((d) => d.startsWith(DIR));
    return created === undefined ? { ok: true } : { ok: false, t: 0, message: `a fresh, empty store was created at ${created} on a machine without its volume` };
  },
};

/** The refusal names the child, the directory and the typed code. */
const refusedNamed: Oracle = {
  name: 'refusedNamed',
  description: 'the missing volume is refused at once, naming the directory',
  check(view) {
    const e = view.trace.find((x) => x.kind === 'report' && x['report'] === 'start_error' && x['child'] === 'migrate');
    const reason = JSON.stringify(e?.['reason'] ?? null);
    if (!e) return { ok: false, t: view.scenario.horizonMs, message: 'the release command was not refused' };
    return reason.includes('ORDO_STORE_MISSING_DIR') && reason.includes(DIR) ? { ok: true } : { ok: false, t: e.t, message: `refused without naming the cause: ${reason}` };
  },
};

const invariants = [
  { kind: 'always', oracle: 'noFreshStore' },
  { kind: 'eventually', oracle: 'refusedNamed' },
] as const;

export const asDeployed: Scenario = { name: 'step02-release-command/as-deployed', description: 'the migration opens whatever it finds at /data', tree: (ctx) => tree(ctx, false), horizonMs: 2000, invariants, expect: 'fail' };
export const withOrdo: Scenario = { name: 'step02-release-command/with-ordo', description: 'the store initializer with expectExisting refuses a missing volume, named', tree: (ctx) => tree(ctx, true), horizonMs: 2000, invariants, expect: 'pass' };

export const step02: IncidentStep = {
  id: 'step02',
  step: '2',
  title: 'The release command runs on an ephemeral machine with no volume',
  story:
    'The release command (`/app/bin/migrate`) runs on an ephemeral machine without the volume (`/data` does not exist). It crashed within a second every time with `(EXIT from #PID<0.98.0>) shutdown` — nothing said which directory was missing — and the release command was commented out.',
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'noFreshStore',
  mechanism:
    "Store initializer (src/store) with `expectExisting: true`: a data directory that is not there is refused at once with `ORDO_STORE_MISSING_DIR` naming it — a permanent error, so no retry — instead of a fresh empty store being created (and migrated) on a disk that is thrown away, or an opaque `shutdown`.",
  oracles: { noFreshStore, refusedNamed },
};
