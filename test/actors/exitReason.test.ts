import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatReason } from '../../src/actors/exitReason.ts';
import { classifyExit, isNormalExit, StartExitError } from '../../src/index.ts';
import { fixture } from '../support/otp.ts';
import { failsToStart, ignores, worker } from '../support/machines.ts';

describe('exit reasons', () => {
  it('classifies reasons as OTP does: normal, shutdown, {shutdown: x} are normal-class; killed and anything else abnormal', () => {
    expect(classifyExit('normal')).toBe('normal');
    expect(classifyExit('shutdown')).toBe('shutdown');
    expect(classifyExit({ shutdown: 'some_info' })).toBe('shutdown');
    expect(classifyExit('killed')).toBe('abnormal');
    expect(classifyExit('died')).toBe('abnormal');
    expect(classifyExit(new Error('x'))).toBe('abnormal');
    expect(classifyExit({ shutdown: 1, extra: 2 })).toBe('abnormal');
    expect(isNormalExit({ shutdown: 'x' })).toBe(true);
    expect(isNormalExit('killed')).toBe(false);
    expect(isNormalExit(undefined)).toBe(false);
  });

  it("a top-level final state's output reason is the exit reason (no root output needed)", async () => {
    const f = fixture();
    const r = await f.kernel.spawn(worker);
    if (r.status !== 'ok') throw new Error('spawn');
    f.kernel.send(r.pid, { type: 'exit', reason: 'boom' });
    expect(f.exitOf(r.pid)).toBe('boom');
    const n = await f.kernel.spawn(worker);
    if (n.status !== 'ok') throw new Error('spawn');
    f.kernel.send(n.pid, { type: 'exit', reason: { shutdown: 'x' } });
    expect(f.exitOf(n.pid)).toEqual({ shutdown: 'x' });
  });

  it("a final state's output { ignore: true } before ready is OTP's ignore; a reason before ready is a start error", async () => {
    const f = fixture();
    expect(await f.kernel.spawn(ignores)).toEqual({ status: 'ignore' });
    const failed = await f.kernel.spawn(failsToStart, { input: { reason: 'no_db' } });
    expect(failed.status).toBe('error');
    const e = (failed as { error: StartExitError }).error;
    expect(e).toBeInstanceOf(StartExitError);
    expect(e).toMatchObject({ code: 'ORDO_START_EXIT', reason: 'no_db' });
  });
});

describe('formatReason', () => {
  it('renders any reason as its JSON round trip (errors named), fast path or not', () => {
    const roundTrip = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    const samples: unknown[] = [
      { fault: 'crash' },
      { shutdown: 'x' },
      { a: 1, b: true, c: null, d: 'd' },
      { n: -0 },
      { n: NaN, m: Infinity },
      { u: undefined, s: 'kept' },
      { f: () => 1 },
      { nested: { deep: [1, 2] } },
      { 2: 'two', 1: 'one', z: 'z' },
      Object.assign(Object.create(null) as object, { k: 'v' }),
      { toJSON: () => 'custom' },
      { big: 1n },
      [1, 'a'],
      new (class Reason { code = 'E'; })(),
    ];
    for (const r of samples) expect(formatReason(r), JSON.stringify(String(Object.keys(r as object)))).toEqual(roundTrip(r));
    expect(Object.keys(formatReason({ b: 1, a: 2 }) as object)).toEqual(['b', 'a']);
    expect(Object.is((formatReason({ n: -0 }) as { n: number }).n, 0)).toBe(true);
  });

  it('matches the JSON round trip on arbitrary flat records (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.double(), fc.integer(), fc.constant(undefined))), (r) => {
        const expected: unknown = JSON.parse(JSON.stringify(r));
        const got = formatReason(r);
        expect(got).toStrictEqual(expected);
        expect(Object.keys(got as object)).toEqual(Object.keys(expected as object));
      }),
    );
  });
});
