// Property: exit signals over random link graphs match a pure model of OTP's link semantics —
// a non-normal exit kills linked processes that do not trap exits (with the same reason),
// trapping processes get one message per link instead, 'normal' kills nobody, a link carries
// at most one signal.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Pid } from '../../src/index.ts';
import { fixture } from '../support/otp.ts';
import { node } from '../support/machines.ts';

interface ModelProc {
  trap: boolean;
  alive: boolean;
  links: Set<number>;
  trapped: { from: number; reason: string }[];
  died?: string;
}

/** Reasons are compared as JSON. */
const key = (r: unknown): string => JSON.stringify(r);
const NORMAL = key('normal');

function modelDie(procs: ModelProc[], i: number, reason: string): void {
  const p = procs[i]!;
  if (!p.alive) return;
  p.alive = false;
  p.died = reason;
  const linked = [...p.links];
  p.links.clear();
  for (const j of linked) {
    const q = procs[j]!;
    q.links.delete(i);
    if (!q.alive) continue;
    if (q.trap) q.trapped.push({ from: i, reason });
    else if (reason !== NORMAL) modelDie(procs, j, reason);
  }
}

type Op = { kind: 'link'; a: number; b: number } | { kind: 'exit'; p: number; reason: 'normal' | 'boom' | 'kill' | { shutdown: 1 } } | { kind: 'kill'; p: number };

describe('properties: links', () => {
  it('random link graphs and exits: who dies, with which reason, and what trapping processes receive', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 2, maxLength: 6 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('link' as const), a: fc.nat(), b: fc.nat() }),
            fc.record({ kind: fc.constant('exit' as const), p: fc.nat(), reason: fc.constantFrom<'normal' | 'boom' | 'kill' | { shutdown: 1 }>('normal', 'boom', 'kill', { shutdown: 1 }) }),
            fc.record({ kind: fc.constant('kill' as const), p: fc.nat() }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        async (traps, ops: Op[]) => {
          const f = fixture();
          const n = traps.length;
          const pids: Pid[] = [];
          for (const trap of traps) {
            const r = await f.kernel.spawn(node, { trapExit: trap });
            if (r.status !== 'ok') throw new Error('spawn');
            pids.push(r.pid);
          }
          const model: ModelProc[] = traps.map((trap) => ({ trap, alive: true, links: new Set(), trapped: [] }));
          for (const op of ops) {
            if (op.kind === 'link') {
              const [a, b] = [op.a % n, op.b % n];
              if (a === b || !model[a]!.alive || !model[b]!.alive) continue;
              f.kernel.link(pids[a]!, pids[b]!);
              model[a]!.links.add(b);
              model[b]!.links.add(a);
            } else if (op.kind === 'exit') {
              const p = op.p % n;
              if (!model[p]!.alive) continue;
              f.kernel.send(pids[p]!, { type: 'exit', reason: op.reason });
              modelDie(model, p, key(op.reason));
            } else {
              const p = op.p % n;
              if (!model[p]!.alive) continue;
              f.kernel.exit(pids[p]!, 'kill');
              modelDie(model, p, key('killed'));
            }
            await f.settle();
            expect(pids.map((p) => f.kernel.isAlive(p))).toEqual(model.map((m) => m.alive));
          }
          for (const [i, m] of model.entries()) {
            if (!m.alive) continue;
            if (!m.trap) continue;
            const r = await f.kernel.call<{ from: Pid; reason: unknown }[]>(pids[i]!, { type: 'trapped' });
            if (!r.ok) throw new Error('trapped');
            const got = r.value.map((t) => `${pids.indexOf(t.from)}:${key(t.reason)}`).sort();
            expect(got).toEqual(m.trapped.map((t) => `${t.from}:${t.reason}`).sort());
          }
          for (const [i, m] of model.entries()) if (!m.alive) expect(key(f.exitOf(pids[i]!))).toBe(m.died);
        },
      ),
      { numRuns: 200 },
    );
  });
});
