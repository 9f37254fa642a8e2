/**
 * A replication stream double for the job tables: commits are serialised like the real stream's
 * expected sequence (a commit whose reads changed is a conflict), and a commit can be made to
 * end with `ReplIndeterminateError` — landed or not, settled later each way (committed / not
 * committed / unknown), or never settled. The local store applies what lands through
 * `applyReplicated`, as the real replicator does; a committed settlement can come before the
 * local apply (`lagMs`), as in the real one (settled when the message is taken in order).
 */
import type { CommitBatch, Replicator, ReplicatorCommitOptions, Store } from '../../src/store/index.ts';
import { ReplIndeterminateError, type CommitSettlement } from '../../src/cluster/index.ts';
import type { TestEnv } from '../../src/env/env.ts';

/** How an indeterminate commit ends: whether it lands, and what its settlement says. */
export type Fate = 'committed' | 'lost' | 'unknown-landed' | 'unknown-lost' | 'never-landed' | 'never-lost';
export const FATES: readonly Fate[] = ['committed', 'lost', 'unknown-landed', 'unknown-lost', 'never-landed', 'never-lost'];

export interface Armed {
  readonly fate: Fate;
  /** The settlement resolves this long after the commit rejects. */
  readonly settleMs: number;
  /** A landing batch is applied locally this long after the rejection (the stream holds later commits until then). */
  readonly lagMs?: number;
  /** Only a commit whose batch matches is hit (default: the next one). */
  readonly match?: (b: CommitBatch) => boolean;
}

/** A batch that claims a job (writes it `executing`). */
export const claims = (b: CommitBatch): boolean => b.ops.some((o) => o.table === 'ordo_jobs' && o.value?.['state'] === 'executing');
/** A batch that writes a job's final state. */
export const completes = (b: CommitBatch): boolean => b.ops.some((o) => o.table === 'ordo_jobs' && ['completed', 'discarded', 'cancelled'].includes(o.value?.['state'] as string));

export class FlakyStream implements Replicator {
  private seq = 0;
  private chain: Promise<void> = Promise.resolve();
  private readonly armed: Armed[] = [];
  /** Indeterminate commits injected so far, by fate. */
  readonly injected: Fate[] = [];
  private readonly store: Store;
  private readonly env: TestEnv;

  constructor(store: Store, env: TestEnv) {
    this.store = store;
    this.env = env;
  }

  /** The next commit (matching `a.match`) ends indeterminate. */
  arm(a: Armed): void {
    this.armed.push(a);
  }

  get pending(): number {
    return this.armed.length;
  }

  commit(batch: CommitBatch, opts?: ReplicatorCommitOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.chain = this.chain.then(() => this.one(batch, opts, resolve, reject)).catch(reject);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((r) => this.env.clock.setTimeout(() => r(), ms));
  }

  private async one(batch: CommitBatch, opts: ReplicatorCommitOptions | undefined, resolve: () => void, reject: (e: unknown) => void): Promise<void> {
    if (opts?.check !== false && opts?.stillValid && !opts.stillValid()) {
      return reject(Object.assign(new Error('conflict: what the transaction read changed'), { code: 'ORDO_REPL_CONFLICT' }));
    }
    const i = this.armed.findIndex((a) => !a.match || a.match(batch));
    if (i < 0) {
      await this.store.applyReplicated(batch, { stream: 'S', seq: ++this.seq });
      return resolve();
    }
    const a = this.armed.splice(i, 1)[0]!;
    this.injected.push(a.fate);
    const lands = a.fate === 'committed' || a.fate === 'unknown-landed' || a.fate === 'never-landed';
    const seq = lands ? ++this.seq : 0;
    let settle!: (o: CommitSettlement) => void;
    const settled = new Promise<CommitSettlement>((r) => (settle = r));
    const outcome: CommitSettlement | undefined = a.fate === 'committed' ? { committed: true, seq } : a.fate === 'lost' ? { committed: false } : a.fate.startsWith('unknown') ? { committed: 'unknown' } : undefined;
    if (outcome) this.env.clock.setTimeout(() => settle(outcome), a.settleMs);
    reject(new ReplIndeterminateError(`commit outcome unknown (injected: ${a.fate})`, { msgId: `m${this.injected.length}`, settled }));
    if (!lands) return;
    if (a.lagMs) await this.sleep(a.lagMs);
    await this.store.applyReplicated(batch, { stream: 'S', seq });
  }
}
