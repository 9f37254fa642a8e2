/**
 * Step 8 — the root cause of the crash loops: `MnesiaInitializer` called `:mnesia.stop()` "for a
 * clean restart" before waiting 5 s for cluster discovery, destroying every table while other
 * processes (the bet settler, Oban) were reading them: `ArgumentError: the table identifier does
 * not refer to an existing ETS table`.
 */
import { fromPromise, setup } from 'xstate';
import type { Scenario, ScenarioContext } from '../../../src/chaos/scenario.ts';
import type { SupervisorInit } from '../../../src/supervisor/index.ts';
import { storeInitializerMachine } from '../../../src/store/initializerMachine.ts';
import type { Store } from '../../../src/store/index.ts';
import type { Env } from '../../../src/env/index.ts';
import { appStaysUp, depReadyBeforeUse, noCrashExcept, readerMachine, type IncidentStep, type Readable } from './kit.ts';

const READERS = ['bux_settler', 'oban_stager'] as const;

/** Mnesia as the app had it: running from boot (configured in runtime.exs), stoppable by anyone. */
function mnesia(): Readable & { running: boolean } {
  const m = {
    running: true,
    open: () => m.running,
    read: (): unknown => {
      if (!m.running) throw new Error('ArgumentError: the table identifier does not refer to an existing ETS table');
      return 1;
    },
  };
  return m;
}

interface InitInput {
  readonly env: Env;
  readonly mnesia: { running: boolean };
  readonly probe: ScenarioContext['probe'];
}

/** As deployed: ready at once, then `:mnesia.stop()` "for a clean restart", 5 s of discovery, start again. */
const eagerInitializerMachine = setup({
  types: { input: {} as InitInput, context: {} as { input: InitInput } },
  actors: {
    reinit: fromPromise<void, InitInput>(async ({ input }) => {
      const wait = (ms: number): Promise<void> => new Promise((r) => input.env.clock.setTimeout(() => r(), ms));
      await wait(50);
      input.mnesia.running = false;
      input.probe('mnesia', { action: 'stop', why: 'clean restart before cluster discovery' });
      await wait(5000);
      input.mnesia.running = true;
      input.probe('mnesia', { action: 'start' });
    }),
  },
}).createMachine({
  context: ({ input }) => ({ input }),
  initial: 'init',
  states: {
    init: { tags: ['ready'], invoke: { src: 'reinit', input: ({ context }) => context.input, onDone: 'up' }, on: { 'ordo.stop': 'done' } },
    up: { tags: ['ready'], on: { 'ordo.stop': 'done' } },
    done: { type: 'final' },
  },
});

const TABLES = {
  user_post_rewards: { type: 'set', key: 'user_id', attributes: { user_id: { type: 'string' }, bux: { type: 'integer', default: 0 } } },
} as const;

function tree(ctx: ScenarioContext, ordo: boolean): SupervisorInit {
  if (!ordo) {
    const m = mnesia();
    return {
      strategy: 'one_for_one',
      maxRestarts: 50,
      periodMs: 10_000,
      children: [
        { id: 'mnesia_initializer', start: { machine: eagerInitializerMachine, name: 'mnesia_initializer', input: { env: ctx.env, mnesia: m, probe: ctx.probe } } },
        ...READERS.map((id) => ({ id, start: { machine: readerMachine, name: id, input: { id, source: m, probe: ctx.probe, everyMs: 20 } } })),
      ],
    };
  }
  return {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'store', provides: 'store', start: { machine: storeInitializerMachine, name: 'store', input: { env: ctx.env, dir: '/data/store', tables: TABLES } } },
      ...READERS.map((id) => ({
        id,
        requires: ['store'],
        start: {
          machine: readerMachine,
          name: id,
          input: ({ deps }: { deps: Readonly<Record<string, unknown>> }) => {
            const store = deps['store'] as Store;
            const source: Readable = { open: () => !store.isClosed, read: () => store.get('user_post_rewards', 'u1') };
            return { id, source, probe: ctx.probe, everyMs: 20 };
          },
        },
      })),
    ],
  };
}

const invariants = [
  { kind: 'always', oracle: 'depReadyBeforeUse' },
  { kind: 'always', oracle: 'noCrash' },
  { kind: 'always', oracle: 'appStaysUp' },
] as const;

export const asDeployed: Scenario = {
  name: 'step08-initializer-stops-store/as-deployed',
  description: 'the initializer stops Mnesia for a clean restart while readers run',
  tree: (ctx) => tree(ctx, false),
  horizonMs: 8000,
  invariants,
  expect: 'fail',
};

/** With Ordo, the store child is crashed on purpose at 2 s: rest_for_one stops the readers first and starts them after the store reopened. */
export const withOrdo: Scenario = {
  name: 'step08-initializer-stops-store/with-ordo',
  description: "Ordo's store initializer provides the store; readers require it; a store restart restarts them after it",
  tree: (ctx) => tree(ctx, true),
  horizonMs: 8000,
  faults: { timeline: [{ at: 2000, action: 'crash', child: 'store' }] },
  invariants,
  expect: 'pass',
};

export const step08: IncidentStep = {
  id: 'step08',
  step: '8',
  title: 'The initializer stops the store under running readers',
  story:
    "MnesiaInitializer called `:mnesia.stop()` \"for clean restart\" before waiting 5 s for cluster discovery. That destroyed every table while the bet settler and Oban were reading them — `ArgumentError: the table identifier does not refer to an existing ETS table` — and fed the crash loop of steps 5–7.",
  asDeployed,
  withOrdo,
  seed: 1,
  violates: 'depReadyBeforeUse',
  mechanism:
    "Store initializer child (src/store) as the only owner of the store: checking → opening → migrating → loading → ready; the store is handed to readers only when ready, and nothing else can stop it. Readers `require` it under rest_for_one: when the store child restarts (crashed here on purpose at 2 s), the readers are stopped first and restarted after the store has reopened — no reader ever sees a closed store.",
  oracles: { appStaysUp, depReadyBeforeUse, noCrash: noCrashExcept(['store']) },
};
