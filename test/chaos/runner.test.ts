import { afterEach, describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.ts';
import { sweep } from '../../src/chaos/sweep.ts';
import { chaosTest, ChaosTestFailure } from '../../src/chaos/chaosTest.ts';
import { renderSummary, renderSvg, renderTimeline, toJsonl } from '../../src/chaos/report.ts';
import { oneForAllWorkers } from '../../src/chaos/scenarios/library.ts';
import { ScenarioError } from '../../src/chaos/errors.ts';
import type { Scenario, TreeData } from '../../src/chaos/scenario.ts';
import { __chaosBugs } from '../../src/env/testBugs.ts';

afterEach(() => {
  __chaosBugs.intensityMiscount = false;
});

const crashy: Scenario = {
  name: 'crashy',
  tree: { strategy: 'one_for_one', maxRestarts: 3, periodMs: 2000, children: ['a', 'b', 'c'].map((id) => ({ id, startMs: 1 })) },
  horizonMs: 10_000,
  latency: { deliveryMs: { uniform: [0, 2] } },
  faults: { random: { crashes: { children: ['a', 'b', 'c'], meanIntervalMs: 700 } } },
  invariants: [{ kind: 'always', oracle: 'restartIntensity' }, { kind: 'sometimes', oracle: 'gaveUp' }],
};

describe('sweep', () => {
  it('two worker threads give each seed the same trace hash as this thread', async () => {
    const here = await sweep(oneForAllWorkers, { seeds: 12, checkEvery: 4 });
    const threads = await sweep(oneForAllWorkers, { seeds: 12, workers: 2, checkEvery: 4 });
    expect(threads.runs).toBe(12);
    expect(here.failed).toEqual([]);
    expect(threads.failed).toEqual([]);
    expect(threads.nondeterministic).toEqual([]);
    expect(threads.determinismChecked).toBeGreaterThan(0);
    expect(threads.sometimes).toEqual(here.sometimes);
    expect(threads.faultCoverage).toEqual(here.faultCoverage);
    expect(threads.results.map((r) => [r.seed, r.traceHash])).toEqual(here.results.map((r) => [r.seed, r.traceHash]));
  }, 60_000);

  it('reports sometimes-coverage and progress', async () => {
    const seen: number[] = [];
    const s = await sweep(crashy, { seeds: [1, 2, 3, 4], onProgress: (p) => seen.push(p.done) });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(s.sometimes['gaveUp']).toBeGreaterThan(0);
  });
});

describe('replay from a decision log', () => {
  it('reproduces the run exactly; a changed tree diverges, named by the label and step', async () => {
    const first = await runScenario(oneForAllWorkers, { seed: 5 });
    const again = await runScenario(oneForAllWorkers, { seed: 5, decisions: first.decisions });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.divergence).toBeUndefined();
    const tree = oneForAllWorkers.tree as TreeData;
    const changed: Scenario = { ...oneForAllWorkers, tree: { ...tree, children: tree.children.slice(1) } };
    const diverged = await runScenario(changed, { seed: 5, decisions: first.decisions });
    expect(diverged.divergence).toMatchObject({ step: expect.any(Number), expected: expect.any(String) });
    expect(diverged.divergence!.ready).not.toContain(diverged.divergence!.expected);
  });
});

describe('reports', () => {
  it('a failing run: summary, fixed-width timeline with the violation, JSONL, SVG', async () => {
    __chaosBugs.intensityMiscount = true;
    let r = await runScenario(crashy, { seed: 1, codeVersion: 'test' });
    for (let seed = 2; r.outcome === 'pass' && seed < 50; seed++) r = await runScenario(crashy, { seed, codeVersion: 'test' });
    expect(r.outcome).toBe('fail');
    const summary = renderSummary(r);
    expect(summary).toContain(`seed         ${r.seed}`);
    expect(summary).toContain('code         test');
    expect(summary).toContain(`violation    restartIntensity (always) at ${r.violation!.t} ms`);
    expect(summary).toContain(`replay       ordo chaos replay crashy --seed ${r.seed}`);
    const timeline = renderTimeline(r);
    expect(timeline).toMatch(/^\s+\d+ ms {2}/);
    expect(timeline).toContain('!!! VIOLATED restartIntensity');
    const lines = toJsonl(r).trim().split('\n');
    expect(lines).toHaveLength(r.trace.length);
    expect(JSON.parse(lines[0]!)).toHaveProperty('t');
    const svg = renderSvg(r);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('restartIntensity');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});

describe('chaosTest', () => {
  it('resolves for a tree that holds its invariants', async () => {
    const s = await chaosTest(crashy, { seeds: 5 });
    expect(s.runs).toBe(5);
  });

  it('rejects with the minimised counterexample and a replay line when a seed fails', async () => {
    __chaosBugs.intensityMiscount = true;
    const e = await chaosTest(crashy, { seeds: 30 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ChaosTestFailure);
    const f = e as ChaosTestFailure;
    expect(f.code).toBe('ORDO_CHAOS_FAILED');
    expect(f.counterexample?.reproduced).toBe(true);
    expect(f.counterexample!.faults.length).toBeLessThanOrEqual(5);
    expect(f.message).toContain('ordo chaos replay crashy --seed');
  }, 30_000);
});

describe('scenario validation', () => {
  it('names the bad field and value', async () => {
    await expect(runScenario({ ...crashy, horizonMs: -1 }, { seed: 1 })).rejects.toMatchObject({ code: 'ORDO_CHAOS_SCENARIO', field: 'horizonMs', value: -1 });
    await expect(runScenario({ ...crashy, nodes: [{ name: 'a' }, { name: 'a' }] }, { seed: 1 })).rejects.toMatchObject({ code: 'ORDO_CHAOS_SCENARIO', field: 'nodes[1].name', value: 'a' });
    await expect(runScenario({ ...crashy, nodes: [] }, { seed: 1 })).rejects.toBeInstanceOf(ScenarioError);
    await expect(runScenario({ ...crashy, invariants: [{ kind: 'always', oracle: 'nope' }] }, { seed: 1 })).rejects.toMatchObject({ field: 'invariants', value: 'nope' });
  });
});
