/**
 * Runs Ordo nodes as child processes (`node --import tsx <fixture> '<json config>'`), so a test
 * can `kill -9` one. A fixture speaks JSON lines: events on stdout (`{ ev, ... }`), commands on
 * stdin (`{ cmd, ... }`); its logs go to stderr (kept for failure messages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { HARNESS_WAIT_MS, waitFor } from './nats.ts';

/** A line a fixture printed: `ev` names it; `t` is the fixture's `Date.now()` when printed. */
export type NodeEvent = { ev: string; t: number } & Record<string, unknown>;

/** A running Ordo node process. */
export class OrdoNodeProcess {
  readonly events: NodeEvent[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  /** Settles when the process ended and its output was read to the end (`close`: every event line is in {@link events}). */
  private readonly ended: Promise<void>;
  readonly name: string;
  private readonly proc: ChildProcess;
  private constructor(
    name: string,
    proc: ChildProcess,
  ) {
    this.name = name;
    this.proc = proc;
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as NodeEvent);
      } catch {
        this.stderr += `[stdout] ${line}\n`;
      }
    });
    proc.stderr!.on('data', (b: Buffer) => {
      this.stderr += b.toString();
      if (this.stderr.length > 400_000) this.stderr = this.stderr.slice(-200_000);
    });
    this.exited = new Promise((r) => proc.once('exit', (code) => r(code)));
    this.ended = new Promise((r) => proc.once('close', () => r()));
  }

  /** Spawns `fixture` (a path under test/cluster/fixtures, or absolute) with `config` as JSON argv. */
  static spawn(fixture: string, name: string, config: Record<string, unknown>): OrdoNodeProcess {
    const path = fixture.startsWith('/') ? fixture : join(import.meta.dirname, '..', 'cluster', 'fixtures', fixture);
    const proc = spawn(process.execPath, ['--import', 'tsx', path, JSON.stringify({ ...config, nodeName: name })], {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: join(import.meta.dirname, '..', '..'),
    });
    return new OrdoNodeProcess(name, proc);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends a command line to the fixture. */
  send(cmd: Record<string, unknown>): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /**
   * Waits for an event matching `pred` (already seen or future). A process that ends without
   * printing it fails the wait at once, with its exit and its stderr — not after the deadline.
   */
  async waitEvent(pred: (e: NodeEvent) => boolean, what: string, timeoutMs = HARNESS_WAIT_MS): Promise<NodeEvent> {
    let stop = false;
    const ended = this.ended.then(() => {
      const e = this.events.find(pred);
      if (e) return e;
      throw new Error(`${this.name}: exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${what}`);
    });
    try {
      return await Promise.race([waitFor(() => (stop ? true : this.events.find(pred)), `${this.name}: ${what}`, timeoutMs) as Promise<NodeEvent>, ended]);
    } catch (e) {
      throw new Error(`${String(e)}\n--- ${this.name} stderr (tail) ---\n${this.stderr.slice(-3000)}`);
    } finally {
      stop = true; // ends the poll (its result no longer matters)
      ended.catch(() => undefined);
    }
  }

  /** Sends a request `{ cmd, id }` and waits for the reply event `{ ev: 'reply', id }`. */
  private nextId = 0;
  async request(cmd: Record<string, unknown>, timeoutMs = HARNESS_WAIT_MS): Promise<NodeEvent> {
    const id = ++this.nextId;
    this.send({ ...cmd, id });
    return this.waitEvent((e) => e.ev === 'reply' && e.id === id, `reply to ${String(cmd.cmd)}`, timeoutMs);
  }

  /** `kill -9`. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Graceful stop through the fixture's `stop` command; kills it if it does not exit in time
   * (then the exit code is null: a test asserting a clean exit fails, naming no speed).
   */
  async stop(timeoutMs = HARNESS_WAIT_MS): Promise<number | null> {
    if (!this.alive) return this.proc.exitCode;
    this.send({ cmd: 'stop' });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}
