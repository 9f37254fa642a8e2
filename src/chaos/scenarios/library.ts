import type { InvariantSpec, Scenario } from '../scenario.ts';
import { clusterNodesScenario } from './cluster3.ts';

/** The supervisor oracles every shipped scenario checks. */
export const supervisorInvariants: readonly InvariantSpec[] = [
  { kind: 'always', oracle: 'restartIntensity' },
  { kind: 'always', oracle: 'restartStrategy' },
  { kind: 'always', oracle: 'depsReady' },
  { kind: 'always', oracle: 'reverseStop' },
  { kind: 'always', oracle: 'handleClosedBeforeReopen' },
  { kind: 'always', oracle: 'noTimersAfterStop' },
  { kind: 'always', oracle: 'noAckedWriteLost' },
  { kind: 'sometimes', oracle: 'restarted' },
  { kind: 'sometimes', oracle: 'gaveUp' },
  { kind: 'sometimes', oracle: 'faultFired' },
];

/**
 * A service's boot tree under `rest_for_one`: a store that owns a database and writes to it, a
 * cache and a job runner that need the store, an API that needs the cache. Children crash now
 * and then; disk writes fail; starts and stops are slow; deliveries and I/O take a few ms.
 */
export const restForOneService: Scenario = {
  name: 'rest-for-one-service',
  description: 'store → cache → api, store → jobs under rest_for_one, with crashes, slow starts and disk faults',
  tree: {
    strategy: 'rest_for_one',
    maxRestarts: 3,
    periodMs: 5000,
    children: [
      { id: 'store', provides: 'store', kvDir: '/data/service', writeEveryMs: 2000, startMs: { uniform: [5, 50] }, stopMs: { uniform: [1, 20] } },
      { id: 'cache', requires: ['store'], provides: 'cache', startMs: { uniform: [1, 20] }, crashAfterMs: { exponential: 8000 } },
      { id: 'api', requires: ['cache'], startMs: 3, stopMs: { uniform: [0, 10] } },
      { id: 'jobs', requires: ['store'], startMs: 2, crashAfterMs: { exponential: 15000 } },
    ],
  },
  horizonMs: 30_000,
  latency: { deliveryMs: { uniform: [0, 2] }, ioMs: { uniform: [1, 3] } },
  faults: {
    random: {
      points: {
        'kv.write.eio': { activation: 0.5, probability: 0.02 },
        'kv.write.enospc': { activation: 0.2, probability: 0.01 },
        'kv.open.slow': { delayMs: [10, 500] },
        'kv.close.slow': { delayMs: [10, 300] },
        'actor.start.slow': { delayMs: [10, 400] },
        'actor.stop.slow': { delayMs: [10, 400] },
        'actor.start.fail': { activation: 0.25, probability: 0.05 },
      },
    },
  },
  invariants: supervisorInvariants,
};

/** Five workers under `one_for_all`, crashing often: exercises group restarts and giving up. */
export const oneForAllWorkers: Scenario = {
  name: 'one-for-all-workers',
  description: 'five workers under one_for_all with frequent crashes and slow stops',
  tree: {
    strategy: 'one_for_all',
    maxRestarts: 4,
    periodMs: 10_000,
    children: ['a', 'b', 'c', 'd', 'e'].map((id, i) => ({ id, startMs: { uniform: [1, 10] }, stopMs: { uniform: [0, 30] }, ...(i % 2 === 0 ? { crashAfterMs: { exponential: 12_000 } } : {}) })),
  },
  horizonMs: 30_000,
  latency: { deliveryMs: { uniform: [0, 3] } },
  faults: { random: { points: { 'actor.stop.slow': { delayMs: [10, 200] }, 'actor.start.slow': { delayMs: [5, 100] } } } },
  invariants: supervisorInvariants,
};

/** A root with a nested `one_for_one` supervisor of workers, and scripted kills. */
export const nestedTree: Scenario = {
  name: 'nested-tree',
  description: 'db, a one_for_one pool of three workers, and a reporter; kills from a timeline',
  tree: {
    strategy: 'rest_for_one',
    maxRestarts: 2,
    periodMs: 5000,
    children: [
      { id: 'db', provides: 'db', kvDir: '/data/nested', writeEveryMs: 1000, startMs: 10 },
      {
        id: 'pool',
        tree: {
          strategy: 'one_for_one',
          maxRestarts: 3,
          periodMs: 2000,
          children: ['w1', 'w2', 'w3'].map((id) => ({ id, startMs: { uniform: [1, 5] }, crashAfterMs: { exponential: 6000 } })),
        },
      },
      { id: 'reporter', requires: ['db'], startMs: 1 },
    ],
  },
  horizonMs: 30_000,
  latency: { deliveryMs: { uniform: [0, 1] }, ioMs: 1 },
  faults: {
    timeline: [
      { at: 5_000, action: 'kill', child: 'w2' },
      { at: 12_000, action: 'crash', child: 'db' },
      { at: 18_000, action: 'kill', child: 'reporter' },
    ],
    random: { points: { 'actor.start.slow': { delayMs: [5, 50] } } },
  },
  invariants: supervisorInvariants,
};

/** Every shipped scenario, by name. */
export const shippedScenarios: Readonly<Record<string, Scenario>> = {
  [restForOneService.name]: restForOneService,
  [oneForAllWorkers.name]: oneForAllWorkers,
  [nestedTree.name]: nestedTree,
  [clusterNodesScenario.name]: clusterNodesScenario,
};
