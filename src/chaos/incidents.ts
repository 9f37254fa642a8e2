import type { Oracle } from './oracles.ts';
import type { Scenario } from './scenario.ts';
import { runScenario, type RunReport } from './runner.ts';

/**
 * One step of a documented incident, replayed two ways: configured as the app was
 * (`asDeployed`, which fails on its documented `seed` with the invariant `violates`) and the
 * Ordo way (`withOrdo`, which passes every seed). `examples/incidents/` holds the catalogue.
 */
export interface IncidentStep {
  /** `step05` …: the step of the incident report it replays. */
  readonly id: string;
  /** The step's number(s) in the report (`'5'`, `'11–16'`). */
  readonly step: string;
  readonly title: string;
  /** The story in a few lines. */
  readonly story: string;
  readonly asDeployed: Scenario;
  readonly withOrdo: Scenario;
  /** The documented seed on which `asDeployed` fails. */
  readonly seed: number;
  /** The invariant `asDeployed` violates on that seed. */
  readonly violates: string;
  /** What Ordo does differently, and which part of Ordo does it. */
  readonly mechanism: string;
  /** Oracles the scenarios name beyond the chaos library's. */
  readonly oracles: Readonly<Record<string, Oracle>>;
}

/** A documented incident: its id (a date), a title and its steps. */
export interface Incident {
  readonly id: string;
  readonly title: string;
  readonly steps: readonly IncidentStep[];
}

/** One row of the replay table. */
export interface ReplayRow {
  readonly step: string;
  readonly title: string;
  /** As deployed, on the documented seed. */
  readonly asDeployed: { readonly outcome: 'pass' | 'fail'; readonly seed: number; readonly violated: string | undefined; readonly timeToFailureMs: number | undefined; readonly asDocumented: boolean };
  /** With Ordo, over `seeds` seeds. */
  readonly withOrdo: { readonly seeds: number; readonly passed: number; readonly firstFailure: { readonly seed: number; readonly invariant: string; readonly t: number } | undefined };
  readonly mechanism: string;
}

/** Options of {@link replayIncident}. */
export interface ReplayOptions {
  /** With-Ordo seeds per step (default 20). */
  readonly seeds?: number;
  /** Called after every run: `done` of `total` runs. */
  readonly progress?: (done: number, total: number, step: string) => void;
}

/**
 * Replays every step of `incident` both ways: the as-deployed configuration on its documented
 * seed (it must fail with its documented invariant), the with-Ordo configuration on seeds
 * `1..seeds` (each must pass). One row per step, for the `ordo replay` table.
 *
 * @example
 * // no-run: replays a whole incident (seconds per seed); `ordo replay` and test/incidents run it
 * import { replayIncident } from './incidents.ts';
 * import type { Incident } from './incidents.ts';
 *
 * declare const incident: Incident; // e.g. examples/incidents/…
 * const rows = await replayIncident(incident, { seeds: 50 });
 * const ok = rows.every((r) => r.asDeployed.asDocumented && r.withOrdo.passed === r.withOrdo.seeds);
 * console.log(ok);
 */
export async function replayIncident(incident: Incident, options: ReplayOptions = {}): Promise<ReplayRow[]> {
  const seeds = options.seeds ?? 20;
  const total = incident.steps.length * (1 + seeds);
  let done = 0;
  const tick = (step: string): void => {
    done++;
    options.progress?.(done, total, step);
  };
  const rows: ReplayRow[] = [];
  for (const s of incident.steps) {
    const bad: RunReport = await runScenario(s.asDeployed, { seed: s.seed, oracles: s.oracles });
    tick(s.id);
    const hit = bad.violations.find((v) => v.invariant === s.violates);
    let passed = 0;
    let firstFailure: ReplayRow['withOrdo']['firstFailure'];
    for (let seed = 1; seed <= seeds; seed++) {
      const r = await runScenario(s.withOrdo, { seed, oracles: s.oracles });
      if (r.outcome === 'pass') passed++;
      else if (!firstFailure && r.violation) firstFailure = { seed, invariant: r.violation.invariant, t: r.violation.t };
      tick(s.id);
    }
    rows.push({
      step: s.step,
      title: s.title,
      asDeployed: { outcome: bad.outcome, seed: s.seed, violated: hit?.invariant ?? bad.violation?.invariant, timeToFailureMs: hit?.t ?? bad.violation?.t, asDocumented: bad.outcome === 'fail' && hit !== undefined },
      withOrdo: { seeds, passed, firstFailure },
      mechanism: s.mechanism,
    });
  }
  return rows;
}

/** The replay table as fixed-width text (what `ordo replay` prints). */
export function formatReplayTable(incident: Incident, rows: readonly ReplayRow[]): string {
  const head = ['step', 'as deployed (outcome, seed, time to failure)', 'with Ordo (seeds passed)', 'mechanism'];
  const body = rows.map((r) => [
    r.step,
    r.asDeployed.asDocumented ? `fails: ${r.asDeployed.violated} @ ${fmtMs(r.asDeployed.timeToFailureMs)} (seed ${r.asDeployed.seed})` : `NOT AS DOCUMENTED: ${r.asDeployed.outcome} (seed ${r.asDeployed.seed})`,
    `${r.withOrdo.passed}/${r.withOrdo.seeds}${r.withOrdo.firstFailure ? ` — seed ${r.withOrdo.firstFailure.seed} broke ${r.withOrdo.firstFailure.invariant}` : ''}`,
    r.mechanism.split(/[:(]/)[0]!.trim(),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [`${incident.id} — ${incident.title}`, '', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ''].join('\n');
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '?';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}
