import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/** A child process running a test fixture with tsx, its stdout read line by line. */
export interface FixtureChild {
  readonly proc: ChildProcess;
  /** The ids of its `ack <id> …` lines so far. */
  readonly acks: number[];
  /** Resolves on the first line from now on for which `pred` holds; rejects (with its stderr) if the child exits first. */
  waitFor(pred: (line: string) => boolean): Promise<void>;
  /** Its exit code (`null` when killed), once the child process exited (reaped: its files, its locks, are released). */
  readonly exited: Promise<number | null>;
}

/**
 * Spawns `node --import tsx fixture ...args` (the kill -9 tests' children): `onLine` sees each
 * stdout line after its ack is counted and before the waiters are checked.
 */
export function spawnFixture(fixture: string, args: readonly string[], onLine?: (line: string) => void): FixtureChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks: number[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: () => void }> = [];
  let buf = '';
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith('ack ')) acks.push(Number(l.split(' ')[1]));
      onLine?.(l);
      for (const w of [...waiters]) if (w.pred(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const died = exited.then((code) => {
    throw new Error(`${fixture} exited (${code}) before the awaited line: ${stderr}`);
  });
  died.catch(() => undefined);
  return { proc, acks, waitFor: (pred) => Promise.race([new Promise<void>((resolve) => waiters.push({ pred, resolve })), died]), exited };
}
