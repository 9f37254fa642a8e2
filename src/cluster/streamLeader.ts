import type { ClusterConnection } from './connection.ts';

/** Subject of JetStream's advisory when `stream` (a KV bucket is `KV_<bucket>`) has elected a leader. */
export const streamLeaderElectedSubject = (stream: string): string => `$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.${stream}`;

/**
 * Calls `onLeader(leader)` each time JetStream announces a new leader for one of `streams`
 * (the server's `LEADER_ELECTED` advisory, published in the stream's account): the moment a
 * consumer, watch or lease on it can recover — instead of a fixed retry. Returns the
 * unsubscribe function. Advisories can be missed (this client was itself reconnecting), so
 * callers keep a back-off retry as the fallback.
 *
 * Gotcha: with per-node permissions the node needs subscribe rights on
 * `$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.>`; without them nothing arrives and the fallback
 * retry is all there is.
 */
export function onStreamLeader(conn: ClusterConnection, streams: readonly string[], onLeader: (stream: string, leader: string | undefined) => void): () => void {
  const subs = streams.map((stream) =>
    conn.transport.subscribe(streamLeaderElectedSubject(stream), {}, (msg) => {
      let leader: string | undefined;
      try {
        leader = (msg.json<{ leader?: string }>().leader ?? undefined) || undefined;
      } catch {
        leader = undefined; // an advisory we cannot read still says "a leader was elected"
      }
      onLeader(stream, leader);
    }),
  );
  return () => {
    for (const s of subs) s.unsubscribe();
  };
}

/**
 * One-shot waits for "the stream has a new leader": {@link LeaderSignal.fire} (called from the
 * {@link onStreamLeader} advisory) wakes everyone waiting then. Each wait is cancellable, so
 * nothing accumulates while no leader changes. @internal
 */
export class LeaderSignal {
  private readonly waiters = new Set<() => void>();

  /** Wakes every current waiter. */
  fire(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** A promise of the next {@link fire}; `cancel` stops waiting (the promise then never settles). */
  next(): { promise: Promise<void>; cancel: () => void } {
    let w!: () => void;
    const promise = new Promise<void>((r) => {
      w = r;
    });
    this.waiters.add(w);
    return { promise, cancel: () => void this.waiters.delete(w) };
  }
}
