/**
 * The demo application `npm start` boots: a rest_for_one root (config → store → cache → jobs →
 * http), so a crash restarts what depends on it and nothing before it.
 */
import type { SupervisorSpec } from '../../src/index.ts';
import { supervisor } from '../../src/index.ts';
import { cacheLoader, service, ticker } from './machines.ts';

export interface DemoOptions {
  dataDir: string;
  /** The job worker crashes on this tick (once). */
  crashAtTick?: number;
}

export function demoTree(options: DemoOptions): SupervisorSpec {
  const crashed = { done: false };
  return {
    strategy: 'rest_for_one',
    maxRestarts: 5,
    periodMs: 10_000,
    children: [
      { id: 'config', start: { machine: service, input: { bootMs: 50, service: { dataDir: options.dataDir } } }, provides: 'config' },
      { id: 'store', requires: ['config'], start: { machine: service, input: { bootMs: 120, service: { name: 'store' } } }, provides: 'store' },
      {
        id: 'cache',
        requires: ['store'],
        start: { machine: cacheLoader, input: ({ deps }: { deps: Record<string, unknown> }) => ({ store: deps['store'] }) },
        provides: 'cache',
      },
      supervisor('jobs', {
        strategy: 'one_for_one',
        maxRestarts: 3,
        periodMs: 5000,
        backoff: { initialMs: 200, maxMs: 5000, factor: 2, jitter: 0.1, resetAfterMs: 10_000 },
        children: [{ id: 'ticker', start: { machine: ticker, input: { everyMs: 400, crashAt: options.crashAtTick ?? 5, crashed } } }],
      }),
      { id: 'http', requires: ['cache'], start: { machine: service, input: { bootMs: 30, service: { port: 0 } } } },
    ],
  };
}
