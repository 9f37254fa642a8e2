/**
 * A Jepsen-style history of a real-world run (real nats-server, real processes): what clients
 * were told, and what each replica holds at the end. Checked after the run, offline — the
 * checker is pure, so it is unit-tested on constructed histories.
 */
export type HistoryOp =
  /** A write the client was told succeeded (acknowledged) or failed; `info`: outcome unknown. */
  | { readonly type: 'write'; readonly outcome: 'ok' | 'fail' | 'info'; readonly node: string; readonly key: string; readonly value: string; readonly at: number }
  /** A node claimed leadership for `term`. */
  | { readonly type: 'leader'; readonly node: string; readonly term: number; readonly at: number };

/** One history check's result: holds, or the violations found (each names what is wrong). */
export interface HistoryVerdict {
  readonly ok: boolean;
  readonly lostWrites: ReadonlyArray<{ key: string; value: string; node: string; replica: string; found: string | undefined }>;
  readonly splitTerms: ReadonlyArray<{ term: number; leaders: string[] }>;
  readonly divergent: ReadonlyArray<{ key: string; values: Record<string, string | undefined> }>;
}

/**
 * Checks: **no acknowledged write lost** — for each key, the last acknowledged write's value is
 * what every replica holds, unless a later write to the key had an unknown or acknowledged
 * outcome (which may have superseded it); **one leader per term**; **replicas converge** — every
 * replica holds the same value for every key.
 *
 * @example
 * import { checkHistory } from './history.ts';
 *
 * // what the clients saw (invoke → ok), and each replica's final table
 * const ops = [{ type: 'write' as const, outcome: 'ok' as const, node: 'a', key: 'k', value: '1', at: 0 }];
 * const v = checkHistory(ops, { a: new Map([['k', '1']]), b: new Map([['k', '1']]) });
 * if (!v.ok) console.error(v.lostWrites, v.splitTerms, v.divergent);
 */
export function checkHistory(ops: readonly HistoryOp[], replicas: Readonly<Record<string, ReadonlyMap<string, string>>>): HistoryVerdict {
  const writes = ops.filter((o): o is Extract<HistoryOp, { type: 'write' }> => o.type === 'write').sort((a, b) => a.at - b.at);
  const lostWrites: Array<{ key: string; value: string; node: string; replica: string; found: string | undefined }> = [];
  const byKey = new Map<string, Array<Extract<HistoryOp, { type: 'write' }>>>();
  for (const w of writes) {
    let list = byKey.get(w.key);
    if (!list) byKey.set(w.key, (list = []));
    list.push(w);
  }
  for (const [key, list] of byKey) {
    const lastOk = [...list].reverse().find((w) => w.outcome === 'ok');
    if (!lastOk) continue;
    // Values that may legitimately be there: the last acknowledged one, or any later write whose outcome is not a failure.
    const allowed = new Set([lastOk.value, ...list.filter((w) => w.at > lastOk.at && w.outcome !== 'fail').map((w) => w.value)]);
    for (const [replica, state] of Object.entries(replicas)) {
      const found = state.get(key);
      if (found === undefined || !allowed.has(found)) lostWrites.push({ key, value: lastOk.value, node: lastOk.node, replica, found });
    }
  }
  const terms = new Map<number, Set<string>>();
  for (const o of ops) {
    if (o.type !== 'leader') continue;
    let s = terms.get(o.term);
    if (!s) terms.set(o.term, (s = new Set()));
    s.add(o.node);
  }
  const splitTerms = [...terms].filter(([, s]) => s.size > 1).map(([term, s]) => ({ term, leaders: [...s].sort() }));
  const keys = new Set<string>();
  for (const state of Object.values(replicas)) for (const k of state.keys()) keys.add(k);
  const divergent: Array<{ key: string; values: Record<string, string | undefined> }> = [];
  for (const key of [...keys].sort()) {
    const values: Record<string, string | undefined> = {};
    for (const [replica, state] of Object.entries(replicas)) values[replica] = state.get(key);
    if (new Set(Object.values(values)).size > 1) divergent.push({ key, values });
  }
  return { ok: lostWrites.length === 0 && splitTerms.length === 0 && divergent.length === 0, lostWrites, splitTerms, divergent };
}
