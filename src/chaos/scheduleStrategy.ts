import type { Random } from '../env/random.ts';
import type { EventQueue, SimTask } from './eventQueue.ts';

/**
 * How the simulator breaks ties between tasks due at the same virtual instant — the decision
 * points of a run (deliveries, I/O completions, timers):
 * - `fifo`: in the order they were queued;
 * - `random`: a seeded random order (the default);
 * - `pct`: PCT-style priorities (Burckhardt et al.): each delivery channel gets a random
 *   priority, the highest ready one runs, and at `depth - 1` random steps the running channel
 *   drops to the lowest priority — good at bugs that need a few specific reorderings;
 * - `replay`: follow a recorded decision log (labels in run order) with the tie-break keys of the
 *   strategy that recorded it (`recordedWith`, see {@link DecisionStrategy}); the first step whose
 *   expected label no ready task has is reported as a {@link Divergence}, and FIFO takes over.
 */
export type ScheduleStrategy =
  | { readonly kind: 'fifo' }
  | { readonly kind: 'random' }
  | { readonly kind: 'pct'; readonly depth?: number; readonly expectedSteps?: number }
  | { readonly kind: 'replay'; readonly log: readonly string[]; readonly recordedWith?: DecisionStrategy | undefined };

/**
 * The strategy a decision log was recorded with — what its tie-break keys were (0 under `fifo`
 * and `pct`, whatever their depth; the schedule stream under `random`), which a replay must draw
 * again to queue same-instant tasks in the run's order and so, of several with the same label,
 * take the one the run took. A log recorded by a replay names the strategy that replay followed.
 * Absent on a log recorded before the field existed: such a log is replayed with `random` keys,
 * as every replay was from 0830d08 until the field (exact for logs the default strategy recorded).
 */
export type DecisionStrategy = 'fifo' | 'random' | 'pct';

/** The {@link DecisionStrategy} of the decision log a run under `strategy` records. */
export function decisionStrategyOf(strategy: ScheduleStrategy): DecisionStrategy {
  return strategy.kind === 'replay' ? (strategy.recordedWith ?? 'random') : strategy.kind;
}

/** Where a replay left its decision log. */
export interface Divergence {
  /** The step (0-based task count) at which the log and the run disagreed. */
  readonly step: number;
  /** The label the log expected. */
  readonly expected: string;
  /** The labels of the tasks that were ready instead. */
  readonly ready: readonly string[];
}

/** @internal The strategy as the simulation uses it. */
export interface ScheduleChooser {
  /** The tie-break key for a new task. */
  key(): number;
  /** Removes and returns the task to run next (the queue has at least one). */
  pick(queue: EventQueue, step: number): SimTask;
  readonly divergence: Divergence | undefined;
}

/** Pops every task due at the same instant as the head (at most `max`). */
function sameInstant(queue: EventQueue, max = 256): SimTask[] {
  const first = queue.pop()!;
  const out = [first];
  while (out.length < max) {
    const n = queue.peek();
    if (!n || n.at !== first.at) break;
    out.push(queue.pop()!);
  }
  return out;
}

function putBack(queue: EventQueue, tasks: SimTask[], chosen: SimTask): void {
  for (const t of tasks) if (t !== chosen) queue.push(t);
}

/** @internal */
export function createScheduleChooser(strategy: ScheduleStrategy, random: Random): ScheduleChooser {
  switch (strategy.kind) {
    case 'fifo':
      return { key: () => 0, pick: (q) => q.pop()!, divergence: undefined };
    case 'random':
      return { key: () => random.next(), pick: (q) => q.pop()!, divergence: undefined };
    case 'pct': {
      const depth = Math.max(1, strategy.depth ?? 3);
      const expected = Math.max(1, strategy.expectedSteps ?? 2000);
      const changes = new Set<number>();
      while (changes.size < Math.min(depth - 1, expected)) changes.add(random.int(expected));
      const priority = new Map<number, number>();
      let lowest = 0;
      const prio = (channel: number): number => {
        let p = priority.get(channel);
        if (p === undefined) priority.set(channel, (p = 1 + random.next()));
        return p;
      };
      return {
        key: () => 0,
        pick(q, step) {
          const ready = sameInstant(q);
          let chosen = ready[0]!;
          for (const t of ready) if (prio(t.channel) > prio(chosen.channel)) chosen = t;
          putBack(q, ready, chosen);
          if (changes.has(step)) priority.set(chosen.channel, --lowest);
          return chosen;
        },
        divergence: undefined,
      };
    }
    case 'replay': {
      const log = strategy.log;
      const chooser: { divergence: Divergence | undefined } & ScheduleChooser = {
        divergence: undefined,
        // The recording strategy's keys (the random ones from the same stream): the queue is in the
        // run's order, so of several tasks with the same label due at once (two timers) the first
        // found is the one the run took — the replay is exact, not just label by label.
        key: decisionStrategyOf(strategy) === 'random' ? () => random.next() : () => 0,
        pick(q, step) {
          if (chooser.divergence || step >= log.length) return q.pop()!;
          const ready = sameInstant(q);
          const expected = log[step]!;
          const chosen = ready.find((t) => t.label === expected);
          if (!chosen) {
            chooser.divergence = { step, expected, ready: ready.map((t) => t.label) };
            putBack(q, ready, ready[0]!);
            return ready[0]!;
          }
          putBack(q, ready, chosen);
          return chosen;
        },
      };
      return chooser;
    }
  }
}

/**
 * A strategy as `ordo chaos … --strategy` and replay lines write it: `fifo`, `random`, `pct`,
 * `pct:<depth>` or `pct:<depth>:<expectedSteps>` (a replay strategy has no such form).
 */
export function formatStrategy(strategy: Exclude<ScheduleStrategy, { kind: 'replay' }>): string {
  if (strategy.kind !== 'pct') return strategy.kind;
  if (strategy.expectedSteps !== undefined) return `pct:${strategy.depth ?? 3}:${strategy.expectedSteps}`;
  return strategy.depth !== undefined ? `pct:${strategy.depth}` : 'pct';
}

/** The strategy {@link formatStrategy} wrote as `text`, or `undefined` when it is not one. */
export function parseStrategy(text: string): Exclude<ScheduleStrategy, { kind: 'replay' }> | undefined {
  if (text === 'fifo' || text === 'random' || text === 'pct') return { kind: text };
  const m = /^pct:([1-9]\d*)(?::([1-9]\d*))?$/.exec(text);
  if (!m) return undefined;
  return m[2] === undefined ? { kind: 'pct', depth: Number(m[1]) } : { kind: 'pct', depth: Number(m[1]), expectedSteps: Number(m[2]) };
}
