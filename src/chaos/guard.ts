import { createRequire, syncBuiltinESMExports } from 'node:module';
import { DeterminismError } from './errors.ts';

const require = createRequire(import.meta.url);
const THIS_FILE = new URL(import.meta.url).pathname;

/** One use of an ambient (non-Env) source of time, randomness, timers or I/O during a run. */
export interface AmbientUse {
  readonly api: string;
  /** `file:line:column` of the caller. */
  readonly site: string;
  /** True when the caller is library code (node_modules): answered virtually, not flagged. */
  readonly library: boolean;
}

/** What the guard answers ambient calls with while a run is active. */
export interface GuardContext {
  /** Virtual wall-clock time in epoch ms (for `Date`). */
  epochNow(): number;
  /** Virtual monotonic ms (for `performance.now`). */
  monoNow(): number;
  random(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** Called for every ambient use from code (not from a library): each is a finding. */
  note(use: AmbientUse): void;
  /** `'throw'`: a use from code throws {@link DeterminismError}; `'report'`: it is noted and answered virtually. */
  readonly policy: 'throw' | 'report';
}

let context: GuardContext | undefined;
let holders = 0;
let restoreAll: (() => void) | undefined;

interface CallSiteLike {
  getFileName(): string | null | undefined;
}

/**
 * The file of the stack frame `skip` frames above the patched function's caller chain, from raw
 * call sites (no formatting, no source maps): cheap enough for every ambient call a library makes.
 */
function rawFiles(depth: number): string[] {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = depth;
  Error.prepareStackTrace = (_e, sites: CallSiteLike[]) => sites.map((c) => c.getFileName() ?? '');
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, rawFiles);
  const files = holder.stack as string[];
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  return files;
}

const firstFile = (_e: unknown, sites: CallSiteLike[]): string => sites[0]?.getFileName() ?? '';

/**
 * The file of the caller of the patched function `patched`: one frame, captured above it (xstate's
 * scheduler reads `Date.now` for every delayed event, so this runs often in a simulation).
 */
function ambientCallerFile(patched: Function): string {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 1;
  Error.prepareStackTrace = firstFile as never;
  const holder: { stack?: unknown } = {};
  Error.captureStackTrace(holder, patched);
  const file = holder.stack as string;
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  return file;
}

/** The test runner and the module loaders (tsx, esbuild): their file access is loading code, not the run doing I/O. */
const RUNNER = /node_modules\/(vitest|@vitest|tinypool|vite-node|tsx|esbuild)\//;

/**
 * The caller of the patched function: the first stack frame outside this module. Library
 * callers are classified from raw frames; only a call from code pays for a source-mapped site.
 */
function caller(depth: number): { site: string; library: boolean; runner: boolean } {
  const files = rawFiles(depth).filter((f) => !f.includes(THIS_FILE));
  const runner = files.some((f) => RUNNER.test(f));
  const first = files[0] ?? '';
  if (runner || /node_modules\//.test(first) || first.startsWith('node:')) return { site: first, library: true, runner };
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 16;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(1).filter((l) => !l.includes(THIS_FILE));
  const line = frames[0] ?? '';
  const m = /\(?((?:file:\/\/)?\/[^()]+:\d+:\d+)\)?\s*$/.exec(line);
  const site = (m ? m[1]! : line.trim()).replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
  return { site, library: false, runner: false };
}

/** Notes an ambient use of `patched` (the patched function called); throws when policy says so. True: answer virtually. */
function ambient(api: string, patched: Function): boolean {
  const c = context;
  if (!c) return false;
  const file = ambientCallerFile(patched);
  if (file.includes('/node_modules/') || file.startsWith('node:')) {
    // Library code (xstate's scheduler reads Date.now and Math.random) is answered virtually, unnoted.
    return !RUNNER.test(file);
  }
  const where = caller(8);
  c.note({ api, site: where.site, library: false });
  if (c.policy === 'throw') throw new DeterminismError(api, where.site);
  return true;
}

/** Real I/O: refused while a run is active (unless the test runner itself is the caller). */
function realIo(api: string): void {
  const c = context;
  if (!c) return;
  const where = caller(24);
  if (where.runner) return;
  c.note({ api, site: where.site, library: false });
  throw new DeterminismError(api, where.site);
}

function patch<T extends object>(obj: T, key: string, make: (orig: (...a: unknown[]) => unknown) => (...a: unknown[]) => unknown, undo: Array<() => void>): void {
  const desc = Object.getOwnPropertyDescriptor(obj, key);
  const orig = (obj as Record<string, unknown>)[key];
  if (typeof orig !== 'function') return;
  const replacement = make(orig as (...a: unknown[]) => unknown);
  Object.defineProperty(obj, key, { value: replacement, writable: true, configurable: true, enumerable: desc?.enumerable ?? true });
  undo.push(() => {
    if (desc) Object.defineProperty(obj, key, desc);
    else delete (obj as Record<string, unknown>)[key];
  });
}

function patchIoModule(mod: Record<string, unknown>, name: string, undo: Array<() => void>): void {
  for (const key of Object.keys(mod)) {
    if (!/^[a-z]/.test(key) || typeof mod[key] !== 'function') continue;
    patch(mod, key, (orig) => function guarded(this: unknown, ...args: unknown[]) {
      realIo(`${name}.${key}`);
      return orig.apply(this, args);
    }, undo);
  }
}

function install(): () => void {
  const undo: Array<() => void> = [];
  const g = globalThis as unknown as Record<string, unknown>;
  const RealDate = Date;
  // the original, called outside a run (the same pass-through as the Math.random and performance.now patches)
  const realNow = RealDate.now;
  class SimDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0 && ambient('new Date', SimDate)) super(context!.epochNow());
      else super(...(args as []));
    }
    static override now(): number {
      return ambient('Date.now', SimDate.now) ? context!.epochNow() : realNow.call(RealDate);
    }
  }
  g['Date'] = SimDate;
  undo.push(() => (g['Date'] = RealDate));
  patch(Math, 'random', (orig) => {
    const random = (): unknown => (ambient('Math.random', random) ? context!.random() : orig());
    return random;
  }, undo);
  patch(performance, 'now', (orig) => {
    const now = (): unknown => (ambient('performance.now', now) ? context!.monoNow() : orig.call(performance));
    return now;
  }, undo);
  const uuid = (orig: (...a: unknown[]) => unknown) => {
    const randomUUID = (...a: unknown[]): unknown => (ambient('crypto.randomUUID', randomUUID) ? virtualUuid() : orig(...a));
    return randomUUID;
  };
  patch(globalThis.crypto, 'randomUUID', (orig) => uuid(orig.bind(globalThis.crypto)), undo);
  const nodeCrypto = require('node:crypto') as Record<string, unknown>;
  patch(nodeCrypto, 'randomUUID', uuid, undo);
  const timers = g as Record<string, unknown>;
  for (const name of ['setTimeout', 'setInterval'] as const) {
    const repeat = name === 'setInterval';
    patch(timers, name, (orig) => {
      const timer = (fn: unknown, ms?: unknown, ...rest: unknown[]): unknown => {
        if (!ambient(name, timer)) return orig(fn, ms, ...rest);
        return virtualTimer(fn as () => void, Number(ms) || 0, repeat);
      };
      return timer;
    }, undo);
  }
  for (const name of ['clearTimeout', 'clearInterval'] as const) {
    patch(timers, name, (orig) => (h: unknown) => (h instanceof VirtualTimer ? h.clear() : orig(h)), undo);
  }
  for (const [mod, label] of [
    ['node:fs', 'fs'],
    ['node:fs/promises', 'fs.promises'],
    ['node:dns', 'dns'],
    ['node:dns/promises', 'dns.promises'],
    ['node:http', 'http'],
    ['node:https', 'https'],
  ] as const) {
    patchIoModule(require(mod) as Record<string, unknown>, label, undo);
  }
  const net = require('node:net') as Record<string, unknown> & { Socket: { prototype: Record<string, unknown> } };
  for (const key of ['connect', 'createConnection', 'createServer']) {
    patch(net, key, (orig) => (...a: unknown[]) => (realIo(`net.${key}`), orig(...a)), undo);
  }
  patch(net.Socket.prototype, 'connect', (orig) => function guarded(this: unknown, ...a: unknown[]) {
    realIo('net.Socket.connect');
    return orig.apply(this, a);
  }, undo);
  syncBuiltinESMExports();
  return () => {
    for (const u of undo.reverse()) u();
    syncBuiltinESMExports();
  };
}

let uuidCounter = 0;
function virtualUuid(): string {
  const r = context!.random;
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');
  uuidCounter++;
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${'89ab'[Math.floor(r() * 4)]}${hex(3)}-${hex(12)}`;
}

/** A timer armed through the global `setTimeout` during a run: lives on the virtual clock. */
class VirtualTimer {
  private handle: unknown;
  private readonly ctx: GuardContext;
  constructor(ctx: GuardContext, fn: () => void, ms: number, repeat: boolean) {
    this.ctx = ctx;
    const arm = (): void => {
      this.handle = ctx.setTimer(() => {
        if (repeat) arm();
        fn();
      }, ms);
    };
    arm();
  }
  clear(): void {
    this.ctx.clearTimer(this.handle);
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return false;
  }
}

function virtualTimer(fn: () => void, ms: number, repeat: boolean): VirtualTimer {
  return new VirtualTimer(context!, fn, ms, repeat);
}

/**
 * Keeps the guard's patches installed until the returned function is called (reference
 * counted; patches go on at the first holder and come off at the last). While no run context
 * is active the patched functions behave as the originals. A sweep holds the guard once for
 * all its runs, so patching costs nothing per run.
 */
export function holdGuard(): () => void {
  if (holders++ === 0) restoreAll = install();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) {
      restoreAll?.();
      restoreAll = undefined;
    }
  };
}

/**
 * Runs `fn` with the guard answering for `ctx`: `Date`, `Math.random`, `performance.now`,
 * `crypto.randomUUID` and global timers are virtual; real file, network and DNS calls throw
 * {@link DeterminismError} naming their call site. Globals are restored afterwards, also when
 * `fn` throws.
 */
export async function withGuard<T>(ctx: GuardContext, fn: () => Promise<T>): Promise<T> {
  const release = holdGuard();
  const previous = context;
  context = ctx;
  try {
    return await fn();
  } finally {
    context = previous;
    release();
  }
}
