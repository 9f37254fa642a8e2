/**
 * The one base class of every typed error Ordo throws, rejects with or reports.
 *
 * Every subclass has a literal `code` (`'ORDO_STORE_CORRUPT'`, `'ORDO_CALL_TIMEOUT'`…): branch on
 * it, never on the message. The ids involved and the bad value are fields of the subclass; the
 * underlying failure is the standard `cause`. Pass the error object itself to the logger
 * (`log.error({ err }, '…')`) so pino's serializer keeps stack, code and cause.
 *
 * @example
 * import { OrdoError } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { createTestEnv } from 'ordo';
 *
 * function describe(e: unknown): string {
 *   return e instanceof OrdoError ? `${e.code}: ${e.message}` : String(e);
 * }
 * await openStore({ env: createTestEnv(), dir: './data/none', expectExisting: true, tables: {} }).catch((e: unknown) => console.log(describe(e))); // ORDO_STORE_MISSING_DIR: …
 */
export abstract class OrdoError extends Error {
  /** A literal, stable identifier of the failure (`ORDO_…`). */
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True when `e` is one of Ordo's typed errors (any subsystem). */
export function isOrdoError(e: unknown): e is OrdoError {
  return e instanceof OrdoError;
}

/**
 * The text of a thrown value: its `message` (an Error's, or any object's string one), else
 * `String(err)`; never a throw itself (a null-prototype object, a throwing `toString` or
 * `message` getter). Shared by the job runner's error entries and the KV adapters' refusal texts,
 * where a throw would leave a job executing or a durable write refused untyped.
 * @internal
 */
export function thrownText(err: unknown): string {
  const m = readSafely(() => {
    const msg = (err as { message?: unknown } | null | undefined)?.message;
    return err instanceof Error || typeof msg === 'string' ? msg : err;
  });
  if (typeof m === 'string') return m;
  return readSafely(() => String(m)) ?? readSafely(() => Object.prototype.toString.call(m)) ?? 'a thrown value that cannot be read';
}

/**
 * `f()`, or `undefined` if it throws.
 * @internal
 */
export function readSafely<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
