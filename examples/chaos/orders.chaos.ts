/**
 * A chaos scenario for the orders tree (examples/chaos/ordersTree.ts): the tree is given as
 * code, everything else is data. Run it with `ordo chaos sweep examples/chaos/orders.chaos.ts`
 * or from a test with `chaosTest(scenario, { seeds })` (test/chaos/example.test.ts).
 */
import type { Scenario } from 'ordo/chaos';
import { ordersTree } from './ordersTree.ts';

export const scenario: Scenario = {
  name: 'orders',
  description: 'db → orders → notifier under rest_for_one; disk write errors, slow disk, crashes',
  tree: ({ env }) => ordersTree(env, '/data/orders'),
  horizonMs: 60_000,
  healAtMs: 45_000,
  latency: { deliveryMs: { uniform: [0, 2] }, ioMs: { uniform: [1, 5] } },
  faults: {
    random: {
      points: {
        'kv.write.eio': { activation: 0.5, probability: 0.05 },
        'kv.open.slow': { delayMs: [50, 2000] },
        'actor.start.slow': { delayMs: [10, 300] },
      },
      crashes: { children: ['db', 'orders', 'notifier'], meanIntervalMs: 15_000 },
    },
  },
  invariants: [
    { kind: 'always', oracle: 'restartIntensity' },
    { kind: 'always', oracle: 'restartStrategy' },
    { kind: 'always', oracle: 'depsReady' },
    { kind: 'always', oracle: 'reverseStop' },
    { kind: 'always', oracle: 'handleClosedBeforeReopen' },
    { kind: 'always', oracle: 'noAckedWriteLost' },
    { kind: 'always', oracle: 'noTimersAfterStop' },
    { kind: 'sometimes', oracle: 'restarted' },
    { kind: 'sometimes', oracle: 'faultFired' },
  ],
};
