import { Process, type ReplyTo } from './process.ts';
import type { Pid } from './pid.ts';
import type { Kernel } from './kernel.ts';

/** A message in a native process's mailbox. */
export type NativeMessage =
  | { readonly kind: 'call'; readonly request: object; readonly replyTo: ReplyTo }
  | { readonly kind: 'cast'; readonly message: unknown }
  | { readonly kind: 'info'; readonly message: unknown }
  /** An exit signal, trapped: native processes always trap exits (as supervisors do). */
  | { readonly kind: 'exit'; readonly from: Pid | undefined; readonly reason: unknown; readonly linked: boolean };

/**
 * The behaviour of a native process: one handler for every message, run one at a time in
 * mailbox order (the kernel awaits each before the next — gen_server's sequential loop).
 * A handler that throws ends the process with the thrown value as its reason.
 */
export interface NativeBehaviour {
  handle(message: NativeMessage): void | Promise<void>;
  /** What `processInfo(...).state` and health reports show. */
  describe?(): unknown;
  /** Called when the process is killed (`'kill'` signal): no cleanup may await. */
  killed?(): void;
  /**
   * Called at once when a trappable exit signal arrives, before it is queued behind the
   * message being handled: a supervisor uses it to cut short a child start in progress.
   */
  signalled?(from: Pid | undefined, reason: unknown, linked: boolean): void;
}

/** @internal A mailbox process running a {@link NativeBehaviour}. */
export class NativeProcess extends Process {
  readonly kind = 'native' as const;
  behaviour!: NativeBehaviour;
  private readonly queue: NativeMessage[] = [];
  private head = 0;
  private running = false;
  ready = false;

  constructor(kernel: Kernel, pid: Pid) {
    super(kernel, pid, true);
  }

  enqueue(message: NativeMessage): void {
    if (!this.alive) return;
    this.queue.push(message);
    if (!this.running) this.drain();
  }

  /**
   * Handles the mailbox in order, one message at a time. A handler that finished in this turn
   * (a restart whose child was ready at once) is not waited for: the next message is taken at
   * once. One that returns a promise holds the mailbox (`running` stays set) until it settles,
   * then the loop goes on from there — no promise of the loop's own per message.
   */
  private drain(): void {
    this.running = true;
    while (this.alive && this.head < this.queue.length) {
      const message = this.queue[this.head]!;
      this.queue[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      let pending: void | Promise<void>;
      try {
        pending = this.behaviour.handle(message);
      } catch (e) {
        this.exit(e);
        continue;
      }
      // (a thenable is waited for, as `await` would; any other value is done)
      if (pending != null && typeof (pending as { then?: unknown }).then === 'function') {
        (pending as PromiseLike<void>).then(this.resume, this.failed);
        return;
      }
    }
    this.running = false;
  }

  /** The handler's promise resolved: the next message. */
  private readonly resume = (): void => this.drain();
  /** The handler's promise rejected: the process ends with that reason. */
  private readonly failed = (e: unknown): void => {
    this.exit(e);
    this.running = false;
  };

  /** Ends the process with `reason`. */
  exit(reason: unknown): void {
    this.queue.length = 0;
    this.head = 0;
    this.terminated(reason);
  }

  signal(from: Pid | undefined, reason: unknown, linked: boolean): void {
    if (!this.alive) return;
    if (reason === 'kill' && !linked) {
      // Untrappable only when sent with kernel.exit; a link's 'kill' reason is an ordinary signal.
      try {
        this.behaviour.killed?.();
      } finally {
        this.exit('killed');
      }
      return;
    }
    this.behaviour.signalled?.(from, reason, linked);
    this.enqueue({ kind: 'exit', from, reason, linked });
  }

  deliverCall(request: object, replyTo: ReplyTo): void {
    this.enqueue({ kind: 'call', request, replyTo });
  }
  deliverCast(message: unknown): void {
    this.enqueue({ kind: 'cast', message });
  }
  deliverInfo(message: unknown): void {
    this.enqueue({ kind: 'info', message });
  }
  describe(): unknown {
    return this.behaviour?.describe?.();
  }
  isReady(): boolean {
    return this.ready;
  }
}
