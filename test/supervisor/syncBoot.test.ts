// An application whose children are ready at once boots in the turn of `startApplication`, and
// one whose children stop at once is torn down in the turn of `stop()` — in order, with the
// same reports (the kernel's synchronous start and stop paths, as for restarts in
// syncRestart.test.ts). A child that waits (a slow stop, a start retry) still holds the order:
// the rest follows when it is done. OTP semantics are the conformance suite's.
import { describe, expect, it } from 'vitest';
import { createKernel, createTestEnv, startApplication, type ChildSpec } from '../../src/index.ts';
import { w } from '../support/otp.ts';

function app(children: ChildSpec[]) {
  const env = createTestEnv();
  const kernel = createKernel(env);
  const order: string[] = [];
  const names = new Map<string, string>();
  kernel.onLifecycle((e) => {
    if (e.type === 'state') return;
    // a child's registered name, read while it is alive (an exit event comes after it is gone)
    const id = kernel.processInfo(e.pid)?.name ?? names.get(String(e.pid)) ?? 'root';
    names.set(String(e.pid), id);
    order.push(`${e.type}:${id}`);
  });
  const handle = startApplication({ name: 'x', env, kernel, handleSignals: false, tree: { strategy: 'rest_for_one', children } });
  return { env, kernel, handle, order };
}

/** A worker registered under its id (so the lifecycle trace can name it). */
const named = (id: string, extra: Partial<ChildSpec> & { stopDelayMs?: number } = {}): ChildSpec => {
  const spec = w(id, extra);
  return { ...spec, start: { ...(spec.start as object), name: id } as never };
};

describe('synchronous application boot and teardown', () => {
  it('children ready at once: the application is ready when startApplication returns', async () => {
    const a = app([named('a'), named('b'), named('c')]);
    // nothing awaited yet
    expect(a.handle.health().status).toBe('ready');
    expect(a.order).toEqual(['ready:a', 'ready:b', 'ready:c']);
    expect(a.env.records.filter((r) => r['report'] === 'application_started')).toHaveLength(1);
    expect(String(await a.handle.ready)).toBe(a.handle.health().pid);
  });

  it('children that stop at once: stop() has stopped them in reverse order, then the root, before it returns — no deadline timer left', async () => {
    const a = app([named('a'), named('b'), named('c')]);
    await a.handle.ready;
    a.order.length = 0;
    const stopped = a.handle.stop();
    // nothing awaited since the stop
    expect(a.order).toEqual(['exit:c', 'exit:b', 'exit:a', 'exit:root']);
    expect(a.kernel.processCount).toBe(0);
    expect(a.handle.health().status).toBe('stopped');
    expect(a.env.clock.pending()).toBe(0);
    expect(await stopped).toEqual({ reason: 'shutdown', code: 0 });
    expect((await a.handle.exited).code).toBe(0);
  });

  it('a child that stops slowly holds the reverse order: the ones before it stop after it is down', async () => {
    const a = app([named('a'), named('b', { stopDelayMs: 50 }), named('c')]);
    await a.handle.ready;
    a.order.length = 0;
    const stopped = a.handle.stop();
    expect(a.order).toEqual(['exit:c']);
    expect(a.kernel.isAlive(a.kernel.whereis('a')!)).toBe(true);
    await a.env.clock.advance(49);
    expect(a.order).toEqual(['exit:c']);
    await a.env.clock.advance(1);
    await a.env.clock.flush();
    expect(a.order).toEqual(['exit:c', 'exit:b', 'exit:a', 'exit:root']);
    expect(await stopped).toEqual({ reason: 'shutdown', code: 0 });
    expect(a.env.records.filter((r) => r['report'] === 'shutdown_error')).toHaveLength(0);
  });
});
