import { OrdoError } from '../errors.ts';

/** Base class of the chaos engine's typed errors. */
export abstract class ChaosError extends OrdoError {}

/**
 * Simulated code touched the real world: the wall clock, ambient randomness, a real timer, the
 * network, DNS or the disk. `api` names what was called and `site` where (file:line:column).
 */
export class DeterminismError extends ChaosError {
  readonly code = 'ORDO_CHAOS_DETERMINISM' as const;
  readonly api: string;
  readonly site: string;
  constructor(api: string, site: string) {
    super(`determinism guard: ${api} called at ${site} during a simulation (use env.clock, env.random or an Env adapter)`);
    this.name = 'DeterminismError';
    this.api = api;
    this.site = site;
  }
}

/** A scenario that cannot run as given: `field` names the bad part, `value` is it. */
export class ScenarioError extends ChaosError {
  readonly code = 'ORDO_CHAOS_SCENARIO' as const;
  readonly scenario: string | undefined;
  readonly field: string;
  readonly value: unknown;
  constructor(scenario: string | undefined, field: string, value: unknown, message: string) {
    super(`scenario ${scenario ?? '(unnamed)'}: ${field}: ${message}`);
    this.name = 'ScenarioError';
    this.scenario = scenario;
    this.field = field;
    this.value = value;
  }
}

/** A simulation is already running in this thread (runs are sequential per thread). */
export class SimulationBusyError extends ChaosError {
  readonly code = 'ORDO_CHAOS_BUSY' as const;
  constructor() {
    super('a simulation is already running in this thread: await it before starting another');
    this.name = 'SimulationBusyError';
  }
}
