/**
 * The harness's node processes: a wait for an event the process never printed ends when the
 * process does — with its exit and its stderr — instead of waiting out its deadline and naming
 * only the event (a fixture that crashed at start used to read as a slow one).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OrdoNodeProcess } from './nodes.ts';

describe('OrdoNodeProcess.waitEvent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-nodes-harness-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** A fixture that prints one event, says why on stderr, and exits 3. */
  const fixture = join(dir, 'exits.mjs');
  writeFileSync(fixture, [`process.stdout.write(JSON.stringify({ ev: 'hello', t: 0 }) + '\\n');`, `process.stderr.write('boom: no config\\n');`, 'process.exitCode = 3;'].join('\n'));

  it('an event printed before the exit is still found after it', async () => {
    const p = OrdoNodeProcess.spawn(fixture, 'x', {});
    expect(await p.exited).toBe(3);
    expect((await p.waitEvent((e) => e.ev === 'hello', 'hello')).ev).toBe('hello');
  });

  it('an event never printed fails the wait when the process ends, naming the exit and its stderr', async () => {
    const p = OrdoNodeProcess.spawn(fixture, 'y', {});
    await expect(p.waitEvent((e) => e.ev === 'ready', 'ready')).rejects.toThrow(/y: exited \(3\) before ready[^]*boom: no config/);
  });
});
