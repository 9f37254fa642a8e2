import type { RestartType, Strategy } from './types.ts';

/** The part of a child record the strategies look at. */
export interface StrategyChild {
  readonly id: string;
  readonly restart: RestartType;
}

/**
 * Which children a restart touches (conformance §1.7), as ids:
 * `terminate` in the order to stop them (reverse start order), `start` in start order,
 * `remove` — temporary children stopped as bystanders, never restarted.
 * `children` is in start order; `failed` is the id that exited.
 *
 * @example
 * import { restartSet } from './strategies.ts';
 *
 * const [a, b, c] = (['a', 'b', 'c'] as const).map((id) => ({ id, restart: 'permanent' as const }));
 * console.log(restartSet('rest_for_one', [a!, b!, c!], 'b')); // { terminate: ['c'], start: ['b', 'c'], remove: [] }
 */
export function restartSet(
  strategy: Strategy,
  children: readonly StrategyChild[],
  failed: string,
): { terminate: string[]; start: string[]; remove: string[] } {
  if (strategy === 'one_for_one' || strategy === 'simple_one_for_one') return { terminate: [], start: [failed], remove: [] };
  const index = children.findIndex((c) => c.id === failed);
  if (index < 0) return { terminate: [], start: [], remove: [] };
  const affected = strategy === 'one_for_all' ? children : children.slice(index);
  const others = affected.filter((c) => c.id !== failed);
  return {
    terminate: others.map((c) => c.id).reverse(),
    start: affected.filter((c) => c.restart !== 'temporary' || c.id === failed).map((c) => c.id),
    remove: others.filter((c) => c.restart === 'temporary').map((c) => c.id),
  };
}
