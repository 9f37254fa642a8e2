// The Feb 25 replays: each as-deployed scenario fails with its documented invariant on its
// documented seed; each with-Ordo scenario passes every seed run here (the count is printed;
// `node --import tsx examples/incidents/sweep.ts` runs 10,000).
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../src/chaos/runner.ts';
import { incidents } from '../../examples/incidents/index.ts';
import { incident } from '../../examples/incidents/2025-02-25/index.ts';
import { raisedLimit } from '../../examples/incidents/2025-02-25/step05-restart-intensity.ts';

/** Seeds per with-Ordo scenario in `npm test` (the long sweep runs 10,000). */
const SEEDS: Record<string, number> = { step02: 20, step03: 20, step04: 20, step05: 100, step06: 200, step07: 20, step08: 20, step09: 20, step10: 50, step11: 12, deadNode: 20, nodeName: 20, rollingDeploy: 20 };

for (const inc of incidents) {
describe(`incident ${inc.id}: every step both ways`, () => {
  for (const step of inc.steps) {
    describe(`step ${step.step}: ${step.title}`, () => {
      it(`as deployed, seed ${step.seed}: violates ${step.violates}`, async () => {
        const r = await runScenario(step.asDeployed, { seed: step.seed, oracles: step.oracles, checkDeterminism: true });
        expect(r.outcome).toBe('fail');
        expect(r.violations.map((v) => v.invariant)).toContain(step.violates);
        expect(r.deterministic).toBe(true);
      });
      it('with Ordo: passes every seed', async () => {
        const n = SEEDS[step.id] ?? 20;
        const failed: string[] = [];
        for (let seed = 1; seed <= n; seed++) {
          const r = await runScenario(step.withOrdo, { seed, oracles: step.oracles });
          if (r.outcome !== 'pass') failed.push(`seed ${seed}: ${r.violation?.invariant} at ${r.violation?.t} ms: ${r.violation?.message}`);
        }
        process.stdout.write(`${inc.id} ${step.id} withOrdo: ${n - failed.length}/${n} seeds passed\n`);
        expect(failed).toEqual([]);
      });
    });
  }
});
}

describe(`incident ${incident.id}: the documented figures`, () => {
  it('step 5: the app exits in about 35 ms as deployed (seed 6), and the raised limit lets that boot through', async () => {
    const step = incident.steps.find((s) => s.id === 'step05')!;
    const r = await runScenario(step.asDeployed, { seed: step.seed, oracles: step.oracles });
    const exit = r.violations.find((v) => v.invariant === 'appStaysUp')!;
    expect(exit.t).toBeGreaterThanOrEqual(20);
    expect(exit.t).toBeLessThanOrEqual(60);
    const raised = await runScenario(raisedLimit, { seed: step.seed, oracles: step.oracles });
    expect(raised.outcome).toBe('pass');
  });

  it('the Mnesia dead-node migration: as deployed 300 rows before, 0 after; with Ordo 300 and 300', async () => {
    const step = incidents.find((i) => i.id === 'mnesia')!.steps[0]!;
    const rows = async (s: typeof step.asDeployed): Promise<unknown[]> => (await runScenario(s, { seed: 1, oracles: step.oracles })).trace.filter((e) => e.kind === 'rows').map((e) => e['count']);
    expect(await rows(step.asDeployed)).toEqual([300, 0]);
    expect(await rows(step.withOrdo)).toEqual([300, 300]);
  });

  it('the node name across two deploys: as deployed two names, the first still in the schema; with Ordo one name, kept in the data dir', async () => {
    const step = incidents.find((i) => i.id === 'mnesia')!.steps.find((s) => s.id === 'nodeName')!;
    const boots = async (s: typeof step.asDeployed) => (await runScenario(s, { seed: 1, oracles: step.oracles })).trace.filter((e) => e.kind === 'node.boot');
    const bad = await boots(step.asDeployed);
    expect(bad).toHaveLength(2);
    expect(bad[0]!['name']).not.toBe(bad[1]!['name']);
    expect(bad[1]!['schema']).toEqual([bad[0]!['name'], bad[1]!['name']]);
    const good = await boots(step.withOrdo);
    expect(good).toHaveLength(2);
    expect(good[1]!['name']).toBe(good[0]!['name']);
    expect(good[1]!['schema']).toEqual([good[0]!['name']]);
  });

  it('the rolling deploy: as deployed the old release adds 5 four-field games to 310 six-field ones; with Ordo it is refused by name and 310 rows stay 310', async () => {
    const step = incidents.find((i) => i.id === 'mnesia')!.steps.find((s) => s.id === 'rollingDeploy')!;
    const bad = await runScenario(step.asDeployed, { seed: 1, oracles: step.oracles });
    expect(bad.trace.filter((e) => e.kind === 'rows').map((e) => e['count'])).toEqual([300, 310, 315]);
    expect(bad.trace.find((e) => e.kind === 'read')?.['shapes']).toEqual({ '6 fields': 310, '4 fields': 5 });
    const good = await runScenario(step.withOrdo, { seed: 1, oracles: step.oracles });
    expect(good.trace.filter((e) => e.kind === 'rows').map((e) => e['count'])).toEqual([300, 310, 310]);
    expect(good.trace.find((e) => e.kind === 'old_code')).toMatchObject({ outcome: 'refused', code: 'ORDO_STORE_NEWER_SCHEMA', storedVersion: 1, knownVersion: 0 });
    expect(good.trace.find((e) => e.kind === 'read')?.['shapes']).toEqual({ '6 fields': 310 });
  });

  it('step 7: as deployed the damaged table is deleted (300 rows served before, 0 after); with Ordo 299 served, 1 refused by name, nothing deleted', async () => {
    const step = incident.steps.find((s) => s.id === 'step07')!;
    const served = async (s: typeof step.asDeployed): Promise<unknown[]> => (await runScenario(s, { seed: 1, oracles: step.oracles })).trace.filter((e) => e.kind === 'rows').map((e) => e['served']);
    expect(await served(step.asDeployed)).toEqual([300, 0]);
    const good = await runScenario(step.withOrdo, { seed: 1, oracles: step.oracles });
    expect(good.trace.filter((e) => e.kind === 'rows').map((e) => e['served'])).toEqual([300, 299]);
    expect(good.trace.find((e) => e.kind === 'refused')?.['rows']).toEqual(['ORDO_STORE_CORRUPT user_post_rewards "user-000"']);
  });

  it('steps 11–16: as deployed the app exits within seconds while /health/ready said 200; with Ordo it stays up, 503 naming the repo, ready within one backoff step', async () => {
    const step = incident.steps.find((s) => s.id === 'step11')!;
    const bad = await runScenario(step.asDeployed, { seed: step.seed, oracles: step.oracles });
    const names = bad.violations.map((v) => v.invariant);
    expect(names).toEqual(expect.arrayContaining(['appStaysUp', 'noCrash', 'degradedNamingRepo']));
    expect(bad.violations.find((v) => v.invariant === 'appStaysUp')!.t).toBeLessThan(30_000);
    const good = await runScenario(step.withOrdo, { seed: step.seed, oracles: step.oracles });
    const samples = good.trace.filter((e) => e.kind === 'health.ready');
    const whileDown = samples.filter((e) => e.t >= 1000 && e.t < 600_000);
    expect(whileDown.length).toBeGreaterThan(100);
    expect(new Set(whileDown.map((e) => `${String(e['code'])} ${String(e['child'])}`))).toEqual(new Set(['503 repo']));
    expect(samples.at(-1)?.['code']).toBe(200);
  });
  it('step 10: as deployed both nodes\' peers crash and both node roots give up in the same millisecond, then the app exits (shutdown); with Ordo both degrade, 503 naming the peer, then sync', async () => {
    const step = incident.steps.find((s) => s.id === 'step10')!;
    const bad = await runScenario(step.asDeployed, { seed: step.seed, oracles: step.oracles });
    const reports = (name: string) => bad.trace.filter((e) => e.kind === 'report' && e['report'] === name);
    const firstCrash = (n: string) => reports('child_terminated').find((e) => e['child'] === `oban_peer-${n}`)!.t;
    expect(firstCrash('n1')).toBe(firstCrash('n2'));
    const gaveUp = reports('reached_max_restart_intensity').filter((e) => String(e['supervisor']).startsWith('node-'));
    expect(new Set(gaveUp.slice(0, 2).map((e) => e['supervisor']))).toEqual(new Set(['node-n1', 'node-n2']));
    expect(gaveUp[0]!.t).toBe(gaveUp[1]!.t);
    const exit = reports('application_exited')[0]!;
    expect(exit['reason']).toBe('shutdown');
    expect(bad.violations.find((v) => v.invariant === 'appStaysUp')!.t).toBeLessThan(1000);
    const good = await runScenario(step.withOrdo, { seed: step.seed, oracles: step.oracles });
    const synced = good.trace.filter((e) => e.kind === 'peer.synced');
    expect(synced.map((e) => e['node']).sort()).toEqual(['n1', 'n2']);
    const samples = good.trace.filter((e) => e.kind === 'health.ready');
    const waiting = samples.filter((e) => e.t > 30 && e.t < synced[0]!.t);
    expect(waiting.length).toBeGreaterThan(3);
    for (const e of waiting) expect([e['code'], e['status'], String(e['child']).split('/').at(-1)]).toEqual([503, 'degraded', expect.stringMatching(/^oban_peer-n[12]$/)]);
    expect(samples.at(-1)?.['code']).toBe(200);
  });
});

describe('incident READMEs', () => {
  it('each README is what examples/incidents/render.ts writes today, and every timeline it shows is there (run it after changing a scenario)', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { renderIncident } = await import('../../examples/incidents/render.ts');
    for (const inc of incidents) {
      const dir = join(import.meta.dirname, '../../examples/incidents', inc.id);
      const { readme, svgs } = await renderIncident(inc);
      expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(readme);
      for (const [name, svg] of svgs) {
        expect(svg.startsWith('<svg')).toBe(true);
        expect(readFileSync(join(dir, name), 'utf8').startsWith('<svg'), name).toBe(true);
      }
    }
  });
});
