/** What kind of work a simulation task is. */
export type TaskKind = 'timer' | 'deliver' | 'io' | 'fault' | 'control';

/** @internal One pending piece of work on the simulated timeline. */
export interface SimTask {
  /** Virtual time it is due. */
  at: number;
  /** The seeded tie-break among tasks due at the same time (0 under FIFO). */
  key: number;
  /** Insertion order: the last tie-break, so the order is total. */
  seq: number;
  kind: TaskKind;
  /** Names the decision in traces and decision logs. */
  label: string;
  /** A delivery channel (the receiving process), for PCT priorities. */
  channel: number;
  run: () => void;
  cancelled: boolean;
}

function before(a: SimTask, b: SimTask): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.key !== b.key) return a.key < b.key;
  return a.seq < b.seq;
}

/**
 * @internal A binary min-heap of tasks ordered by (time, tie-break key, sequence). Cancelled
 * tasks stay in the heap and are skipped when they reach the top (cancellation is O(1)).
 */
export class EventQueue {
  private readonly heap: SimTask[] = [];
  /** Tasks not cancelled. */
  live = 0;

  get size(): number {
    return this.heap.length;
  }

  push(t: SimTask): void {
    const h = this.heap;
    h.push(t);
    this.live++;
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** The next live task without removing it. */
  peek(): SimTask | undefined {
    this.dropCancelled();
    return this.heap[0];
  }

  /** Removes and returns the next live task. */
  pop(): SimTask | undefined {
    this.dropCancelled();
    const t = this.removeTop();
    if (t) this.live--;
    return t;
  }

  cancel(t: SimTask): void {
    if (t.cancelled) return;
    t.cancelled = true;
    this.live--;
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.removeTop();
  }

  private removeTop(): SimTask | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
