/**
 * Source of ids (delayed-event ids, call refs, incarnation ids). Counter-based, so two runs
 * with the same inputs produce the same ids.
 */
export interface IdSource {
  /** `prefix` + a number unique within this source. */
  next(prefix?: string): string;
}

export function createIdSource(namespace = ''): IdSource {
  let n = 0;
  return { next: (prefix = 'id') => `${namespace}${prefix}-${++n}` };
}
