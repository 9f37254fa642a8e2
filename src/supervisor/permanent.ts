/**
 * Whether a start failure's reason says no retry can fix it (a bad configuration, refused
 * credentials): `isPermanent` when given, else an object marked `permanent: true` anywhere
 * along its wrapping (a start error's `reason`, an error's `cause`), a few levels deep.
 *
 * @example
 * import { isPermanentReason } from 'ordo';
 *
 * console.log(isPermanentReason({ permanent: true, code: 'ORDO_BAD_CONFIG' })); // true: fails fast, no start retry
 * console.log(isPermanentReason(new Error('ECONNREFUSED'))); // false
 */
export function isPermanentReason(reason: unknown, isPermanent?: (reason: unknown) => boolean): boolean {
  let r: unknown = reason;
  for (let depth = 0; depth < 4 && r !== undefined && r !== null; depth++) {
    if (isPermanent?.(r)) return true;
    if (typeof r !== 'object') return false;
    if ((r as { permanent?: unknown }).permanent === true) return true;
    const o = r as { reason?: unknown; cause?: unknown };
    r = o.reason !== undefined ? o.reason : o.cause;
  }
  return false;
}
