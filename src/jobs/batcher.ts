/**
 * Coalesces the calls made in one microtask turn into one store transaction (the store's group
 * commit already writes a turn's commits in one batch; this also makes them one commit: one
 * transaction, one change-log record). If the shared transaction fails, each item is retried
 * alone, so one bad item never fails its neighbours — unless `retryAlone(err)` says no (a commit
 * that may have landed is never repeated blindly: each item rejects with its error).
 *
 * @internal
 */
export class Batcher<I, R> {
  private items: Array<{ item: I; resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  private scheduled = false;
  private readonly run: (items: readonly I[]) => Promise<R[]>;
  private readonly max: number;
  private readonly retryAlone: (err: unknown) => boolean;

  constructor(run: (items: readonly I[]) => Promise<R[]>, max = 1000, retryAlone: (err: unknown) => boolean = () => true) {
    this.run = run;
    this.max = max;
    this.retryAlone = retryAlone;
  }

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.items.push({ item, resolve, reject });
      if (this.items.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.items;
    this.items = [];
    if (batch.length === 0) return;
    this.run(batch.map((b) => b.item)).then(
      (rs) => batch.forEach((b, i) => b.resolve(rs[i]!)),
      (err) => {
        if (batch.length === 1 || !this.retryAlone(err)) return batch.forEach((b) => b.reject(err));
        for (const b of batch) this.run([b.item]).then((rs) => b.resolve(rs[0]!), b.reject);
      },
    );
  }
}
