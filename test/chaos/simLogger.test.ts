import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Simulation } from '../../src/chaos/simulation.ts';

/**
 * The simulation's logger captures each record as an object: the child logger's bindings, the
 * record's own fields, then `t`, `level` and `msg` — a report also goes to the trace with
 * `kind: 'report'` last. Checked against the object spread that defines that shape (own keys in
 * order, values), for any field names and values.
 */
const value = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null), fc.array(fc.nat(), { maxLength: 2 }));
/** Any field names (also t, level, msg, kind) but `__proto__` and Object.prototype's own names, on plain objects. */
const fields = fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('t', 'level', 'msg', 'kind', 'report')).filter((k) => !(k in Object.prototype)), value, { maxKeys: 6 }).map((d) => Object.assign({}, d));
/** Child logger bindings (pino reads a few names itself: these are prefixed). */
const bindings = fc.dictionary(fc.string({ maxLength: 5 }).map((k) => `b${k}`), value, { maxKeys: 4 }).map((d) => Object.assign({}, d));

describe('the simulation logger capture', () => {
  it('keeps bindings, fields, t, level and msg in order, and a report in the trace with kind last', () => {
    fc.assert(
      fc.property(bindings, fields, fc.option(fc.string({ maxLength: 5 }), { nil: undefined }), fc.boolean(), fc.nat(1000), (bindings, obj, report, child, t) => {
        const sim = new Simulation({ seed: 1 });
        sim.now = t;
        const root = sim.createEnv().logger;
        const log = child ? root.child(bindings) : root;
        const record = report === undefined ? obj : { ...obj, report };
        log.warn(record, 'said');
        const expected = { ...(child ? bindings : undefined), ...record, t, level: 40, msg: 'said' };
        expect(sim.logs).toHaveLength(1);
        expect(Object.entries(sim.logs[0]!)).toEqual(Object.entries(expected));
        if (typeof (record as { report?: unknown }).report !== 'string') expect(sim.trace).toHaveLength(0);
        else expect(sim.trace.map((e) => Object.entries(e))).toEqual([Object.entries({ ...expected, kind: 'report' })]);
      }),
      { numRuns: 300 },
    );
  });

  it('a message alone is a record of t, level and msg', () => {
    const sim = new Simulation({ seed: 1 });
    sim.createEnv().logger.info('hello');
    expect(Object.entries(sim.logs[0]!)).toEqual([['t', 0], ['level', 30], ['msg', 'hello']]);
  });
});
