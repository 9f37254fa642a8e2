import { describe, expect, it } from 'vitest';
import { chaosTest, ChaosTestFailure, type Scenario } from 'ordo/chaos';
import { scenario } from '../../examples/chaos/orders.chaos.ts';

// The runnable example of docs/chaos.md: a user's own tree under chaosTest.
describe('docs/chaos.md example: the orders tree', () => {
  it('survives write errors, slow disks and crashes on 50 seeds', async () => {
    const summary = await chaosTest(scenario, { seeds: 50 });
    expect(summary.runs).toBe(50);
    expect(summary.sometimes['restarted']).toBeGreaterThan(0);
  }, 60_000);

  it('a kill of db is caught: its LOCK is still held when the restart reopens it (minimised to that one kill)', async () => {
    const killing: Scenario = { ...scenario, faults: { ...scenario.faults, random: { ...scenario.faults!.random!, crashes: { children: ['db'], meanIntervalMs: 10_000, kill: 1 } } } };
    const e = await chaosTest(killing, { seeds: 30 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ChaosTestFailure);
    const min = (e as ChaosTestFailure).counterexample!;
    expect(min.report.violation?.invariant).toBe('handleClosedBeforeReopen');
    expect(min.faults).toEqual([expect.objectContaining({ action: 'kill', child: 'db' })]);
    expect((e as ChaosTestFailure).message).toContain("--faults '[{");
  }, 60_000);
});
