// A one_for_one restart whose new child is ready at once finishes in the turn of the exit that
// caused it (the kernel's synchronous start path): the supervisor's record names the new child
// before anything is awaited. Restart semantics (intensity, reports) are the conformance suite's.
import { describe, expect, it } from 'vitest';
import { crash, fixture, pidOf, startSup, w } from '../support/otp.ts';
import type { Kernel, Pid } from '../../src/index.ts';

/** The supervisor's description of child `id`, read synchronously (no admin call). */
function described(kernel: Kernel, sup: Pid, id: string): { pid: string | undefined; restarts: number; phase: string } | undefined {
  const state = kernel.processInfo(sup)?.state as { children: { id: string; pid: string | undefined; restarts: number; phase: string }[] };
  return state.children.find((c) => c.id === id);
}

describe('synchronous restart path', () => {
  it('a crashed child ready at once is restarted, recorded and counted within the crash', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_one', maxRestarts: 5, periodMs: 1000, children: [w('a'), w('b')] });
    const before = await pidOf(f.kernel, sup, 'a');
    crash(f.kernel, before);
    // nothing awaited since the crash
    const now = described(f.kernel, sup, 'a')!;
    expect(now.phase).toBe('running');
    expect(now.pid).not.toBe(String(before));
    expect(now.restarts).toBe(1);
    expect(f.kernel.isAlive(before)).toBe(false);
    await f.settle();
    const after = await pidOf(f.kernel, sup, 'a');
    expect(String(after)).toBe(now.pid);
    expect(f.kernel.isAlive(after)).toBe(true);
    expect(f.reports('child_terminated')).toHaveLength(1);
  });

  it('the intensity still counts every synchronous restart: one past maxRestarts shuts the supervisor down', async () => {
    const f = fixture();
    const sup = await startSup(f.kernel, { strategy: 'one_for_one', maxRestarts: 2, periodMs: 1000, children: [w('a')] });
    for (let i = 0; i < 2; i++) crash(f.kernel, await pidOf(f.kernel, sup, 'a'));
    expect(described(f.kernel, sup, 'a')!.restarts).toBe(2);
    crash(f.kernel, await pidOf(f.kernel, sup, 'a'));
    await f.settle();
    expect(f.kernel.isAlive(sup)).toBe(false);
    expect(f.reports('reached_max_restart_intensity')).toHaveLength(1);
  });
});
