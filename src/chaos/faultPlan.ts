import type { FaultHook } from '../env/faults.ts';
import type { Random } from '../env/random.ts';

/** How one fault point behaves in a run. */
export interface FaultPointConfig {
  /** Chance the point is active for the whole run, decided at its first evaluation (BUGGIFY). */
  readonly activation?: number;
  /** Chance an active point fires at each evaluation. */
  readonly probability?: number;
  /** For delay points: the injected delay range in virtual ms, `[min, max]`. */
  readonly delayMs?: readonly [number, number];
}

/**
 * Random faults for a run (FoundationDB's BUGGIFY rules): a point's first evaluation decides
 * whether it is active for the whole run (`activation`, default 0.25); an active point fires
 * at each evaluation with `probability` (default 0.25). `points` overrides per point name;
 * `'off'` disables one. Only points named in `points` fire unless `all` is true.
 */
export interface RandomFaults {
  readonly activation?: number;
  readonly probability?: number;
  readonly points?: Readonly<Record<string, FaultPointConfig | 'off'>>;
  /**
   * A nemesis: crash or kill one of `children` (registered names) at random times during the
   * chaos phase, on average every `meanIntervalMs` (exponential gaps). Each is a fault event.
   */
  readonly crashes?: { readonly children: readonly string[]; readonly meanIntervalMs: number; readonly kill?: number };
}

/** A fault that fires once: at the first evaluation of point `name` (for `subject`) at or after `at`. */
export interface ScriptedFault {
  readonly at: number;
  readonly name: string;
  readonly subject?: string | undefined;
  /** For delay points: the delay to inject. */
  readonly delayMs?: number | undefined;
}

/** One fault that fired in a run (what a report lists and the shrinker minimises). */
export interface FiredFault {
  readonly t: number;
  readonly name: string;
  readonly subject: string | undefined;
  readonly delayMs?: number;
}

/** Per point: how often it was evaluated, whether it was active, how often it fired. */
export interface FaultCoverage {
  readonly [name: string]: { evaluated: number; active: boolean; fired: number };
}

/** @internal The fault hook of one run. */
export class FaultSession implements FaultHook {
  readonly fired: FiredFault[] = [];
  readonly coverage: Record<string, { evaluated: number; active: boolean; fired: number }> = {};
  /** Random faults stop firing once this is false (the heal phase). */
  chaos = true;
  /** Per point: its coverage entry and whether it is active, per subject (drawn at its first evaluation). */
  private readonly byName = new Map<string, { readonly cov: { evaluated: number; active: boolean; fired: number }; readonly active: Map<string | undefined, boolean> }>();
  private readonly script: Array<ScriptedFault & { used?: boolean }>;
  private readonly random: Random;
  private readonly plan: RandomFaults | undefined;
  private readonly now: () => number;
  private readonly onFire: (f: FiredFault) => void;

  constructor(options: { random: Random; now: () => number; plan?: RandomFaults | undefined; script?: readonly ScriptedFault[] | undefined; onFire: (f: FiredFault) => void }) {
    this.random = options.random;
    this.now = options.now;
    this.plan = options.plan;
    this.script = (options.script ?? []).map((s) => ({ ...s }));
    this.onFire = options.onFire;
  }

  point(name: string, subject: string | undefined): boolean {
    return this.evaluate(name, subject) !== undefined;
  }

  delayMs(name: string, subject: string | undefined): number {
    return this.evaluate(name, subject) ?? 0;
  }

  /** undefined: no fault; otherwise the delay (0 for non-delay points). */
  private evaluate(name: string, subject: string | undefined): number | undefined {
    let point = this.byName.get(name);
    if (point === undefined) {
      point = { cov: (this.coverage[name] ??= { evaluated: 0, active: false, fired: 0 }), active: new Map() };
      this.byName.set(name, point);
    }
    const cov = point.cov;
    cov.evaluated++;
    const t = this.now();
    for (const s of this.script) {
      if (s.used || s.name !== name || s.at > t || (s.subject !== undefined && s.subject !== subject)) continue;
      s.used = true;
      return this.fire(cov, name, subject, s.delayMs ?? 0);
    }
    const plan = this.plan;
    if (!plan || !this.chaos) return undefined;
    const cfg = plan.points?.[name];
    if (cfg === undefined || cfg === 'off') return undefined;
    let active = point.active.get(subject);
    if (active === undefined) {
      active = this.random.next() < (cfg.activation ?? plan.activation ?? 0.25);
      point.active.set(subject, active);
    }
    if (!active) return undefined;
    cov.active = true;
    if (this.random.next() >= (cfg.probability ?? plan.probability ?? 0.25)) return undefined;
    const range = cfg.delayMs;
    const delay = range ? Math.round(range[0] + this.random.next() * (range[1] - range[0])) : 0;
    return this.fire(cov, name, subject, delay);
  }

  private fire(cov: { fired: number }, name: string, subject: string | undefined, delayMs: number): number {
    cov.fired++;
    const f: FiredFault = delayMs > 0 ? { t: this.now(), name, subject, delayMs } : { t: this.now(), name, subject };
    this.fired.push(f);
    this.onFire(f);
    return delayMs;
  }
}
