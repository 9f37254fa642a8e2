// The native mailbox loop (supervisors run on it): one message at a time in order; a handler
// that returns a promise holds the mailbox until it settles, one that returns nothing does not;
// a handler that throws or rejects ends the process with that reason.
import { describe, expect, it } from 'vitest';
import { createKernel, createTestEnv } from '../../src/index.ts';
import type { NativeMessage } from '../../src/actors/index.ts';

function spawnRecorder(handle: (m: NativeMessage, log: string[]) => void | Promise<void>) {
  const env = createTestEnv();
  const kernel = createKernel(env);
  const log: string[] = [];
  const proc = kernel.spawnNative(() => ({ handle: (m) => handle(m, log) }));
  if ('status' in proc) throw new Error('spawnNative');
  return { env, kernel, log, proc };
}

const tag = (m: NativeMessage): string => String((m as { message?: unknown }).message);

describe('native mailbox', () => {
  it('a pending handler holds the next messages; synchronous ones run at once, in order', async () => {
    const { env, kernel, log, proc } = spawnRecorder((m, log) => {
      const t = tag(m);
      log.push(`start ${t}`);
      if (t !== 'slow') return;
      return new Promise<void>((r) => env.clock.setTimeout(() => (log.push('slow done'), r()), 10));
    });
    kernel.send(proc.pid, 'a');
    expect(log).toEqual(['start a']); // handled within the send
    kernel.send(proc.pid, 'slow');
    kernel.send(proc.pid, 'b');
    kernel.send(proc.pid, 'c');
    await env.clock.advance(5);
    expect(log).toEqual(['start a', 'start slow']);
    await env.clock.advance(10);
    expect(log).toEqual(['start a', 'start slow', 'slow done', 'start b', 'start c']);
    kernel.send(proc.pid, 'd');
    expect(log.at(-1)).toBe('start d'); // the mailbox is free again
  });

  it('a handler that throws ends the process with the thrown value; the rest is dropped', async () => {
    const boom = new Error('boom');
    const { env, kernel, log, proc } = spawnRecorder((m, log) => {
      log.push(tag(m));
      if (tag(m) === 'x') throw boom;
    });
    const down: unknown[] = [];
    kernel.monitor(proc.pid, (r) => down.push(r));
    kernel.send(proc.pid, 'x');
    kernel.send(proc.pid, 'y');
    await env.clock.flush();
    expect(log).toEqual(['x']);
    expect(down).toEqual([boom]);
    expect(kernel.isAlive(proc.pid)).toBe(false);
  });

  it('a handler whose promise rejects ends the process with the rejection, after the messages before it', async () => {
    const boom = new Error('later');
    const { env, kernel, log, proc } = spawnRecorder((m, log) => {
      log.push(tag(m));
      if (tag(m) === 'x') return new Promise<void>((_, reject) => env.clock.setTimeout(() => reject(boom), 1));
    });
    const down: unknown[] = [];
    kernel.monitor(proc.pid, (r) => down.push(r));
    kernel.send(proc.pid, 'w');
    kernel.send(proc.pid, 'x');
    kernel.send(proc.pid, 'y');
    await env.clock.advance(5);
    expect(log).toEqual(['w', 'x']);
    expect(down).toEqual([boom]);
  });
});
