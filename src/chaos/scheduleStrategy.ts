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
 * - `replay`: follow a recorded decision log (labels in run order); the first step whose
 *   expected label no ready task has is reported as a {@link Divergence}, and FIFO takes over.
 */
export type ScheduleStrategy =
  | { readonly kind: 'fifo' }
  | { readonly kind: 'random' }
  | { readonly kind: 'pct'; readonly depth?: number; readonly expectedSteps?: number }
  | { readonly kind: 'replay'; readonly log: readonly string[] };

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
        // The random strategy's keys, from the same stream: a log it recorded is replayed with the
        // queue in the same order, so of several tasks with the same label due at once (two timers)
        // the first found is the one the run took — the replay is exact, not just label by label.
        key: () => random.next(),
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
