// Same seed → same trace (DESIGN "Determinism"): a supervision scenario with seeded backoff
// jitter, crashes and admin calls, run twice, logs exactly the same records.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { restartChild, stopProcess, terminateChild, whichChildren, type Pid } from '../../src/index.ts';
import { drive, exitWith, fixture, startSup, w } from '../support/otp.ts';

type Op = { kind: 'crash' | 'kill' | 'terminate' | 'restart' | 'advance'; pick: number };

async function run(seed: number, strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', ops: Op[]): Promise<unknown[]> {
  const f = fixture(seed);
  const backoff = { initialMs: 100, maxMs: 2000, factor: 2, jitter: 0.5 };
  const sup = await startSup(f.kernel, { strategy, maxRestarts: 50, periodMs: 10_000, backoff, children: [w('a'), w('b', { restart: 'transient' }), w('c', { stopDelayMs: 30 })] }, { name: 'root' });
  for (const op of ops) {
    if (!f.kernel.isAlive(sup)) break;
    const rows = await drive(f, whichChildren(f.kernel, sup));
    const row = rows[op.pick % rows.length];
    const pid = row && row.pid && row.pid !== 'restarting' ? (row.pid as Pid) : undefined;
    if (op.kind === 'advance') await f.env.clock.advance(op.pick % 1500);
    else if (!row) continue;
    else if (op.kind === 'terminate') await drive(f, terminateChild(f.kernel, sup, row.id!));
    else if (op.kind === 'restart') await drive(f, restartChild(f.kernel, sup, row.id!));
    else if (pid && op.kind === 'kill') f.kernel.exit(pid, 'kill');
    else if (pid) exitWith(f.kernel, pid, 'boom');
    await f.settle();
  }
  await f.env.clock.advance(5000);
  if (f.kernel.isAlive(sup)) await drive(f, stopProcess(f.kernel, sup));
  return [...f.env.records, ...f.events.map((e) => ({ ...e, pid: String(e.pid), reason: 'reason' in e ? String(e.reason) : undefined }))];
}

describe('determinism', () => {
  it('the same seed and operations produce the same records and lifecycle trace', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom('one_for_one' as const, 'one_for_all' as const, 'rest_for_one' as const),
        fc.array(fc.record({ kind: fc.constantFrom<Op['kind']>('crash', 'kill', 'terminate', 'restart', 'advance'), pick: fc.nat() }), { minLength: 1, maxLength: 12 }),
        async (seed, strategy, ops) => {
          const first = await run(seed, strategy, ops);
          const second = await run(seed, strategy, ops);
          expect(second).toEqual(first);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a different seed gives different jittered delays (the seed is really used)', async () => {
    const ops: Op[] = [
      { kind: 'crash', pick: 0 },
      { kind: 'advance', pick: 1400 },
      { kind: 'crash', pick: 0 },
      { kind: 'advance', pick: 1400 },
    ];
    expect(await run(1, 'one_for_one', ops)).toEqual(await run(1, 'one_for_one', ops));
    const times = async (seed: number) => {
      const f = fixture(seed);
      const sup = await startSup(f.kernel, { maxRestarts: 50, backoff: { initialMs: 1000, maxMs: 5000, jitter: 0.5 }, children: [w('a')] });
      exitWith(f.kernel, (await whichChildren(f.kernel, sup))[0]!.pid as Pid, 'boom');
      await f.settle();
      return f.env.clock.nextAt();
    };
    expect(await times(1)).not.toBe(await times(2));
  });
});
