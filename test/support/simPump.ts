import { Simulation } from '../../src/chaos/simulation.ts';
import { _setFaultHook } from '../../src/env/faults.ts';
import { FaultSession, type ScriptedFault } from '../../src/chaos/faultPlan.ts';

/**
 * A simulation driven in the background, for contract tests that call a simulated adapter
 * like a real one: every queued task runs as soon as it is queued (virtual time jumps ahead).
 * `faults` installs scripted fault points for the adapter under test.
 */
export function pumpedSimulation(seed = 1, faults: readonly ScriptedFault[] = []): { sim: Simulation; stop: () => void } {
  const sim = new Simulation({ seed, strategy: { kind: 'fifo' } });
  const previous = _setFaultHook(new FaultSession({ random: sim.streams.stream('faults'), now: () => sim.now, script: faults, onFire: (f) => sim.record('fault', { ...f }) }));
  let running = true;
  void (async () => {
    while (running) {
      await sim.run(Number.MAX_SAFE_INTEGER);
      await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    sim,
    stop: () => {
      running = false;
      _setFaultHook(previous);
    },
  };
}
