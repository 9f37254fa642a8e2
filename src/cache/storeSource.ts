import type { Row, Store } from '../store/index.ts';
import type { CacheSourceSpec } from './types.ts';

/**
 * A cache source over one table of the {@link Store}: loads every row keyed by the table's key,
 * reads a missing key with `store.get`, and follows the store's change events (replicated
 * writes included) — a put replaces the entry, a delete drops it.
 *
 * @example
 * import { storeTableSource } from 'ordo/cache';
 *
 * // keys are user ids, values the row mapped to the type the cache serves
 * const spec = storeTableSource<number, { user_id: number; bux_balance: number }>('user_bux_points', {
 *   map: (row) => ({ user_id: Number(row['user_id']), bux_balance: Number(row['bux_balance']) }),
 * });
 * console.log(spec);
 */
export function storeTableSource<K = unknown, V = Row>(table: string, options: { map?: (row: Row) => V } = {}): CacheSourceSpec<Store, K, V> {
  const map = options.map ?? ((row: Row) => row as unknown as V);
  return {
    load: (store) => store.range(table).map((row): [K, V] => [keyOf(store, table, row) as K, map(row)]),
    loadOne: (store, key) => {
      const row = store.get(table, key);
      return row === undefined ? undefined : map(row);
    },
    subscribe: (store, onChange) =>
      store.subscribe(table, (e) => (e.op === 'put' ? onChange({ op: 'put', key: e.key as K, value: map(e.value) }) : onChange({ op: 'delete', key: e.key as K }))),
  };
}

function keyOf(store: Store, table: string, row: Row): unknown {
  const key = store.tableDef(table)?.key ?? [];
  return key.length === 1 ? row[key[0]!] : key.map((k) => row[k]);
}
