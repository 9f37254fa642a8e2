/**
 * Writes each incident's README.md and the SVG timelines it shows, from the incident catalogue:
 * every step replayed as deployed (its documented seed) and with Ordo (seed 1).
 * Run: `node --import tsx examples/incidents/render.ts` (the files are checked in; a test checks
 * they are current).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runScenario, type RunReport } from '../../src/chaos/runner.ts';
import { renderSvg } from '../../src/chaos/report.ts';
import type { Incident, IncidentStep } from '../../src/chaos/incidents.ts';
import { incidents } from './index.ts';

const here = import.meta.dirname;

/** The report with its documented violation in front (the SVG draws the first one). */
function documented(r: RunReport, step: IncidentStep): RunReport {
  const v = r.violations.find((x) => x.invariant === step.violates);
  return v ? { ...r, violation: v } : r;
}

/** The README of one incident, from its steps and their replays. */
export async function renderIncident(incident: Incident): Promise<{ readme: string; svgs: Map<string, string> }> {
  const svgs = new Map<string, string>();
  const lines: string[] = [
    `# ${incident.title}`,
    '',
    `Replayed by \`ordo replay ${incident.id}\` (and \`test/incidents/replays.test.ts\`): each step configured as the app was deployed fails on its documented seed; configured the Ordo way it passes every seed. Timelines: amber — starting, green — ready, × — abnormal exit, black bar — a supervisor gave up, red line — the invariant that broke.`,
    '',
    '| step | as deployed | with Ordo | which part of Ordo |',
    '|---|---|---|---|',
  ];
  const sections: string[] = [];
  for (const step of incident.steps) {
    const bad = documented(await runScenario(step.asDeployed, { seed: step.seed, oracles: step.oracles }), step);
    const good = await runScenario(step.withOrdo, { seed: 1, oracles: step.oracles });
    const a = `timelines/${step.id}-as-deployed.svg`;
    const b = `timelines/${step.id}-with-ordo.svg`;
    svgs.set(a, renderSvg(bad));
    svgs.set(b, renderSvg(good));
    const v = bad.violations.find((x) => x.invariant === step.violates);
    lines.push(`| ${step.step} | fails: \`${step.violates}\` at ${v ? `${v.t} ms` : '?'} (seed ${step.seed}) | passes | ${step.mechanism.split(/[:(]/)[0]!.trim()} |`);
    sections.push(
      `## Step ${step.step}: ${step.title}`,
      '',
      step.story,
      '',
      `**As deployed** (\`${step.asDeployed.name}\`, seed ${step.seed}): ${v ? `\`${v.invariant}\` broke at ${v.t} ms — ${v.message}` : 'did not fail as documented'}`,
      '',
      `![as deployed](${a})`,
      '',
      `**With Ordo** (\`${step.withOrdo.name}\`): ${good.outcome === 'pass' ? 'every invariant holds' : `FAILS: ${good.violation?.message}`}.`,
      '',
      `![with Ordo](${b})`,
      '',
      `**What Ordo does differently.** ${step.mechanism}`,
      '',
      `Replay: \`ordo replay ${incident.id}\` (both ways, every step) · scenarios \`${step.asDeployed.name}\` and \`${step.withOrdo.name}\` (seed ${step.seed}).`,
      '',
    );
  }
  return { readme: [...lines, '', ...sections].join('\n'), svgs };
}

if (process.argv[1] === import.meta.filename) {
  for (const incident of incidents) {
    const dir = join(here, incident.id);
    const { readme, svgs } = await renderIncident(incident);
    mkdirSync(join(dir, 'timelines'), { recursive: true });
    for (const [name, svg] of svgs) writeFileSync(join(dir, name), svg);
    writeFileSync(join(dir, 'README.md'), readme);
    process.stdout.write(`${incident.id}: README.md and ${svgs.size} timelines\n`);
  }
}
