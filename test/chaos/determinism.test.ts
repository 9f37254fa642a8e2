import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.ts';
import { holdGuard } from '../../src/chaos/guard.ts';
import { shippedScenarios } from '../../src/chaos/scenarios/library.ts';

const SEEDS = 200;
let release: () => void;
beforeAll(() => {
  release = holdGuard();
});
afterAll(() => release());

describe.each(Object.values(shippedScenarios))('shipped scenario $name', (scenario) => {
  it(`same seed twice → same trace hash, on ${SEEDS} seeds; every run passes its invariants`, async () => {
    const hashes = new Set<string>();
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runScenario(scenario, { seed, checkDeterminism: true });
      expect(r.deterministic, `seed ${seed}`).toBe(true);
      hashes.add(r.traceHash);
      if (r.outcome !== 'pass') failures.push(`seed ${seed}: ${r.violation!.invariant}: ${r.violation!.message}`);
    }
    expect(failures).toEqual([]);
    // Different seeds explore different runs (a hash that ignored the seed would pass above).
    expect(hashes.size).toBeGreaterThan(SEEDS * 0.9);
  }, 300_000);
});
