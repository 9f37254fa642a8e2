import { hostname } from 'node:os';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** A log record as captured by {@link createMemoryLogger}. */
export type LogRecord = Record<string, unknown> & { level: number; msg?: string };

/**
 * The serializers every Ordo logger uses: `err` goes through pino's standard error serializer
 * (`errWithCause`), so a record keeps the error's `type`, `message`, `stack`, `code`, its other
 * fields (the ids of an `OrdoError`) and its `cause` chain. Log errors as
 * `log.error({ err }, 'msg')`, never as a string.
 */
export const logSerializers: { readonly err: (err: Error) => Record<string, unknown> } = { err: pino.stdSerializers.errWithCause };

/**
 * The real logger: pino to stdout (JSON), or pretty-printed when `pretty` is set.
 * Levels and redaction are pino's own options.
 */
export function createRealLogger(options: LoggerOptions & { pretty?: boolean; /** Default stdout; the CLI sends logs to stderr when stdout shows the tree. */ to?: 'stdout' | 'stderr' } = {}): Logger {
  const { pretty, serializers, to, ...rest } = options;
  const withErr = { ...logSerializers, ...serializers };
  // `pid` is Ordo's process id in reports; the OS pid goes under `ospid`.
  const base = { ospid: process.pid, hostname: hostname() };
  if (pretty) {
    return pino({ level: 'info', base, ...rest, serializers: withErr, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  if (to === 'stderr') return pino({ level: 'info', base, ...rest, serializers: withErr }, pino.destination(2));
  return pino({ level: 'info', base, ...rest, serializers: withErr });
}

/**
 * A logger that keeps every record in memory — for tests that assert on reports, and for
 * the chaos engine's traces. Records are parsed JSON objects in emission order.
 *
 * @example
 * import { createMemoryLogger } from 'ordo';
 *
 * const { logger, records } = createMemoryLogger();
 * logger.info({ report: 'progress' }, 'started');
 * console.log(records[0]?.report); // 'progress'
 */
export function createMemoryLogger(level: LoggerOptions['level'] = 'trace'): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = {
    write(line: string) {
      records.push(JSON.parse(line) as LogRecord);
    },
  };
  // timestamp: false — the wall clock must not leak into deterministic traces.
  const logger = pino({ level, timestamp: false, base: null, serializers: logSerializers }, stream);
  return { logger, records };
}
