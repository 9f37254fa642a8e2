import type { Clock, TimerHandle } from '../env/clock.ts';
import type { StoreState } from './storeState.ts';
import { StoreCommitTimeoutError } from './errors.ts';

/** One write being watched: it times out at `due` (on the watch's clock) unless it answered. */
interface Watched {
  readonly due: number;
  readonly expire: () => void;
}

/**
 * The commit deadline's timer, shared by the writes it watches (issue 13). A timer per synced
 * group commit cost a timer list created, a libuv timer restarted and both torn down again
 * for every batch; here one timer stays armed while writes keep coming, firing at the
 * earliest write's due time: a write that answered in time is forgotten, one past its due
 * time expires, and the timer is re-armed for the next due one. Each write still expires
 * exactly `ms` after it started (or when the clock's timer runs, if later). Once no write is
 * watched, the caller's {@link DeadlineWatch.idle} (at the end of a turn in which nothing is
 * queued) clears the timer, so an idle store holds no timer. @internal
 */
export class DeadlineWatch {
  private readonly clock: Clock;
  private readonly watched = new Set<Watched>();
  private timer: TimerHandle | undefined = undefined;
  /** When the armed timer fires. */
  private timerDue = 0;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Watches a write that must answer within `ms`: `expire` is called if it has not by then; call the returned function once it answered. */
  watch(ms: number, expire: () => void): () => void {
    const w: Watched = { due: this.clock.now() + ms, expire };
    this.watched.add(w);
    // (the store's writes share one deadline, so a later write is due later: the armed timer stays)
    if (this.timer === undefined || w.due < this.timerDue) this.arm(w.due, ms);
    return () => void this.watched.delete(w);
  }

  /** Clears the timer if no write is watched (call when the caller goes idle). */
  idle(): void {
    if (this.watched.size > 0 || this.timer === undefined) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(due: number, ms: number): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = this.clock.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    let next = Infinity;
    for (const w of [...this.watched]) {
      if (w.due <= now) {
        this.watched.delete(w);
        w.expire();
      } else if (w.due < next) next = w.due;
    }
    // (an `expire` that started a write armed the timer for it: the earlier of the two wins)
    if (next !== Infinity && (this.timer === undefined || next < this.timerDue)) this.arm(next, next - now);
  }
}

/**
 * `write` (a synced batch of `commits` commits up to `seq`), or a `StoreCommitTimeoutError`
 * once `s.commitDeadlineMs` passed without an answer — on `deadlines`' clock (the engine's
 * latency clock: real time for a real disk, even under a test's virtual clock; else the env's).
 * An answer after that changes nothing (its commits were rejected, nothing of it is applied):
 * it is only logged. @internal
 */
export function withinDeadline(s: StoreState, deadlines: DeadlineWatch, write: Promise<void>, commits: number, seq: number): Promise<void> {
  const ms = s.commitDeadlineMs;
  return new Promise<void>((resolve, reject) => {
    let timedOut = false;
    const answered = deadlines.watch(ms, () => {
      timedOut = true;
      reject(new StoreCommitTimeoutError(s.dir, ms, seq, commits));
    });
    const late = (err: unknown): void => {
      const written = err === undefined;
      s.env.logger.error({ report: 'store_commit_late', dir: s.dir, seq, commits, deadlineMs: ms, written, ...(written ? {} : { err }) }, 'a synced write answered after its commit deadline: ignored (its commits were rejected as indeterminate; a reopen settles it)');
    };
    write.then(
      () => {
        if (timedOut) return late(undefined);
        answered();
        resolve();
      },
      (err: unknown) => {
        if (timedOut) return late(err ?? new Error('rejected'));
        answered();
        reject(err);
      },
    );
  });
}
