import { describe, expect, it } from 'vitest';
import { setup, type AnyStateMachine } from 'xstate';
import { readFileSync } from 'node:fs';
import { runScenario } from '../../src/chaos/runner.ts';
import { withGuard } from '../../src/chaos/guard.ts';
import { DeterminismError } from '../../src/chaos/errors.ts';
import type { Scenario } from '../../src/chaos/scenario.ts';

/** A child that reads the wall clock in an action — the stray call the guard must name. */
const strayClock = setup({}).createMachine({
  initial: 'up',
  states: {
    up: {
      tags: ['ready'],
      entry: () => {
        const t = Date.now(); // the stray call (this line is named in the report)
        void t;
      },
      on: { 'ordo.stop': 'done' },
    },
    done: { type: 'final' },
  },
});
const STRAY_LINE = readFileSync(new URL(import.meta.url), 'utf8').split('\n').findIndex((l) => l.includes('the stray call (this line')) + 1;

/** A child that reads a real file as it starts. */
const readsDisk = setup({}).createMachine({
  initial: 'up',
  states: {
    up: {
      tags: ['ready'],
      entry: () => {
        readFileSync('/etc/hostname');
      },
    },
  },
});

const tree = (machine: AnyStateMachine): Scenario['tree'] => () => ({ strategy: 'one_for_one', maxRestarts: 0, children: [{ id: 'stray', start: { machine, name: 'stray' } }] });

describe('determinism guard', () => {
  it('a stray Date.now() in a child is caught and named (file and line), and the run fails on it', async () => {
    const s: Scenario = { name: 'stray-clock', tree: tree(strayClock), horizonMs: 1000, invariants: [] };
    const r = await runScenario(s, { seed: 1 });
    expect(r.outcome).toBe('fail');
    expect(r.violation?.invariant).toBe('determinism');
    expect(r.violation?.message).toMatch(new RegExp(`^Date\\.now called at .*test/chaos/guard\\.test\\.ts:${STRAY_LINE}:\\d+$`));
  });

  it("with ambient: 'throw' the stray call throws a DeterminismError in the child (a crash the supervisor handles)", async () => {
    const s: Scenario = { name: 'stray-clock-throw', tree: tree(strayClock), horizonMs: 1000, invariants: [], ambient: 'throw' };
    const r = await runScenario(s, { seed: 1 });
    const startError = r.trace.find((e) => e.kind === 'report' && e['report'] === 'start_error');
    expect(JSON.stringify(startError?.['reason'])).toMatch(/determinism guard: Date\.now called at .*guard\.test\.ts/);
  });

  it('a real disk read in a child fails fast with the call site named', async () => {
    const s: Scenario = { name: 'reads-disk', tree: tree(readsDisk), horizonMs: 1000, invariants: [] };
    const r = await runScenario(s, { seed: 1 });
    expect(r.violation?.message).toMatch(/^fs\.readFileSync called at .*guard\.test\.ts:\d+:\d+$/);
  });

  it('globals are virtual inside and restored afterwards, also when the run throws', async () => {
    const realDate = Date;
    const realRandom = Math.random;
    const realNow = performance.now;
    const ctx = {
      epochNow: () => 1_000,
      monoNow: () => 5,
      random: () => 0.5,
      setTimer: () => undefined,
      clearTimer: () => undefined,
      note: () => undefined,
      policy: 'report' as const,
    };
    await expect(
      withGuard(ctx, async () => {
        expect(Date.now()).toBe(1_000);
        expect(new Date().getTime()).toBe(1_000);
        expect(Math.random()).toBe(0.5);
        expect(performance.now()).toBe(5);
        // From a fresh macrotask (no test-runner frames on the stack, as in a simulated child):
        const thrown = await new Promise((resolve) =>
          setImmediate(() => {
            try {
              readFileSync('/etc/hostname');
              resolve(undefined);
            } catch (e) {
              resolve(e);
            }
          }),
        );
        expect(thrown).toBeInstanceOf(DeterminismError);
        expect((thrown as DeterminismError).api).toBe('fs.readFileSync');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(Date).toBe(realDate);
    expect(Math.random).toBe(realRandom);
    expect(performance.now).toBe(realNow);
    expect(readFileSync('/etc/hostname').length).toBeGreaterThan(0);
    expect(Date.now()).toBeGreaterThan(1_700_000_000_000);
  });
});
