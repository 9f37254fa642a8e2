import type { Logger } from '../env/logger.ts';
import type { CommitBatch, CommitOp, Row } from './types.ts';
import type { Change } from './writeBatch.ts';

/** A change to one row, delivered to `subscribe` listeners after it is committed. */
export interface ChangeEvent {
  readonly table: string;
  readonly op: 'put' | 'delete';
  readonly key: unknown;
  /** The new row (put) or the removed row (delete). */
  readonly value: Row;
  readonly old?: Row | undefined;
}

/**
 * The store's change feed: row-level subscribers per table and whole-commit listeners. A
 * listener that throws is logged and never affects the commit or the other listeners.
 * @internal
 */
export class ChangeFeed {
  private readonly subscribers = new Map<string, Set<(e: ChangeEvent) => void>>();
  private readonly commitListeners = new Set<(b: CommitBatch) => void>();
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** Adds a row listener of `table`; returns an unsubscribe. */
  subscribe(table: string, listener: (e: ChangeEvent) => void): () => void {
    let s = this.subscribers.get(table);
    if (!s) this.subscribers.set(table, (s = new Set()));
    s.add(listener);
    return () => {
      s.delete(listener);
      if (s.size === 0) this.subscribers.delete(table);
    };
  }

  /** Adds a whole-commit listener; returns an unsubscribe. */
  onCommit(listener: (batch: CommitBatch) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Delivers one applied commit: its batch to commit listeners, its row changes to subscribers. */
  emit(ops: readonly CommitOp[], cs: readonly Change[], schemaVersion: number): void {
    if (this.commitListeners.size > 0 && ops.length > 0) {
      const b: CommitBatch = { ops: ops.map(plainOp), schemaVersion };
      for (const l of this.commitListeners) this.safely(() => l(b), 'onCommit');
    }
    if (this.subscribers.size === 0) return;
    for (const c of cs) {
      const subs = this.subscribers.get(c.mem.def.name);
      if (!subs) continue;
      const r = (c.row ?? c.old)!;
      const key = c.mem.def.key.length === 1 ? r[c.mem.def.key[0]!] : c.mem.def.key.map((k) => r[k]);
      const ev: ChangeEvent = c.row ? { table: c.mem.def.name, op: 'put', key, value: c.row, old: c.old } : { table: c.mem.def.name, op: 'delete', key, value: c.old! };
      for (const l of subs) this.safely(() => l(ev), 'subscribe');
    }
  }

  private safely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ report: 'store_listener_failed', listener: what, err }, 'store listener threw');
    }
  }
}

/** `op` without `value: undefined` (what goes into a {@link CommitBatch}). @internal */
export function plainOp(op: CommitOp): CommitOp {
  return op.value === undefined ? { table: op.table, op: op.op, key: op.key } : { table: op.table, op: op.op, key: op.key, value: op.value };
}
