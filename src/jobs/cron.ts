import { JobsConfigError } from './errors.ts';

/** `@daily`-style aliases (Oban's and Vixie cron's). */
export const CRON_ALIASES: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** A parsed cron expression: the allowed values of each field. */
export interface CronSchedule {
  readonly expression: string;
  readonly timezone: string;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  /** 0 = Sunday (7 is accepted for Sunday too). */
  readonly weekdays: ReadonlySet<number>;
  /** Day-of-month and day-of-week were both restricted: a day matches if either does (cron's rule). */
  readonly dayOr: boolean;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function field(src: string, min: number, max: number, names: readonly string[] | undefined, what: string, expr: string): Set<number> {
  const out = new Set<number>();
  const num = (s: string): number => {
    const i = names ? names.indexOf(s.toUpperCase()) : -1;
    const n = i >= 0 ? i + (min === 1 ? 1 : 0) : /^\d+$/.test(s) ? Number(s) : NaN;
    if (!(n >= min && n <= max)) throw new JobsConfigError('cron', expr, `${what} value ${JSON.stringify(s)} out of ${min}..${max}`);
    return n;
  };
  for (const part of src.split(',')) {
    const [range, stepS] = part.split('/');
    const step = stepS === undefined ? 1 : Number(stepS);
    if (!Number.isInteger(step) || step < 1) throw new JobsConfigError('cron', expr, `${what} step ${JSON.stringify(stepS)} is not a positive integer`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range!.includes('-')) {
      const [a, b] = range!.split('-');
      [lo, hi] = [num(a!), num(b!)];
      if (lo > hi) throw new JobsConfigError('cron', expr, `${what} range ${range} is reversed`);
    } else {
      lo = num(range!);
      hi = stepS === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/**
 * Parses a 5-field cron expression (`min hour day month weekday`, with `*`, lists, ranges, steps,
 * month and day names) or an alias (`@daily`…) in an IANA time zone (default `Etc/UTC`).
 * Bad input is a {@link JobsConfigError} naming the field — refused at spec time.
 *
 * @example
 * import { parseCron } from 'ordo/jobs';
 *
 * const s = parseCron('0 9 * * MON-FRI', 'Europe/Paris'); // 09:00 Paris time on weekdays
 * console.log(s);
 */
export function parseCron(expression: string, timezone = 'Etc/UTC'): CronSchedule {
  const alias = expression.trim().toLowerCase();
  // own keys only: `constructor` or `__proto__` is not an alias (its prototype's value was read as one)
  const src = Object.hasOwn(CRON_ALIASES, alias) ? CRON_ALIASES[alias]! : expression.trim();
  const parts = src.split(/\s+/);
  if (parts.length !== 5) throw new JobsConfigError('cron', expression, 'expected 5 fields (min hour day month weekday) or an @alias');
  try {
    formatter(timezone);
  } catch (e) {
    throw new JobsConfigError('cron.timezone', timezone, 'not a time zone Intl knows', { cause: e });
  }
  const weekdays = field(parts[4]!, 0, 7, DAYS, 'weekday', expression);
  if (weekdays.delete(7)) weekdays.add(0);
  return {
    expression,
    timezone,
    minutes: field(parts[0]!, 0, 59, undefined, 'minute', expression),
    hours: field(parts[1]!, 0, 23, undefined, 'hour', expression),
    days: field(parts[2]!, 1, 31, undefined, 'day', expression),
    months: field(parts[3]!, 1, 12, MONTHS, 'month', expression),
    weekdays,
    dayOr: parts[2] !== '*' && parts[4] !== '*',
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  return f;
}

/** Wall-clock fields of instant `ms` in `tz`. */
export function localTime(ms: number, tz: string): { month: number; day: number; hour: number; minute: number; weekday: number } {
  const p: Record<string, string> = {};
  for (const x of formatter(tz).formatToParts(ms)) p[x.type] = x.value;
  return { month: Number(p['month']), day: Number(p['day']), hour: Number(p['hour']) % 24, minute: Number(p['minute']), weekday: DAYS.indexOf(p['weekday']!.toUpperCase()) };
}

const MINUTE = 60_000;

/**
 * The latest minute (ms, a multiple of 60 000) in `(after, atOrBefore]` that the schedule
 * matches, or `undefined`. Walks back minute by minute, skipping whole hours and days that
 * cannot match, so a yearly schedule after a long outage costs a few hundred steps.
 */
export function lastSlot(s: CronSchedule, atOrBefore: number, after: number): number | undefined {
  let t = Math.floor(atOrBefore / MINUTE) * MINUTE;
  while (t > after) {
    const l = localTime(t, s.timezone);
    const dayOk = s.dayOr ? s.days.has(l.day) || s.weekdays.has(l.weekday) : s.days.has(l.day) && s.weekdays.has(l.weekday);
    // a DST change moves local midnight by up to an hour: jump an hour short, the hour skips do the rest
    if (!s.months.has(l.month) || !dayOk) t -= Math.max(l.minute + 1, l.hour * 60 + l.minute + 1 - 60) * MINUTE;
    else if (!s.hours.has(l.hour)) t -= (l.minute + 1) * MINUTE;
    else if (!s.minutes.has(l.minute)) t -= MINUTE;
    else return t;
  }
  return undefined;
}
