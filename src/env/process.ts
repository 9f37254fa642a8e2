/**
 * The host process as an adapter: signals, exit and the OS pid. The Application traps
 * SIGTERM/SIGINT through it; the chaos engine delivers simulated signals.
 */
export interface ProcessAdapter {
  onSignal(signal: 'SIGTERM' | 'SIGINT', handler: () => void): () => void;
  exit(code: number): void;
  readonly pid: number;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function createRealProcess(): ProcessAdapter {
  return {
    onSignal(signal, handler) {
      process.on(signal, handler);
      return () => process.off(signal, handler);
    },
    exit: (code) => process.exit(code),
    pid: process.pid,
    env: process.env,
  };
}

/** A process adapter that records exits and lets a test raise signals. */
export function createTestProcess(env: Record<string, string | undefined> = {}): ProcessAdapter & {
  raise(signal: 'SIGTERM' | 'SIGINT'): void;
  exits: number[];
} {
  const handlers = new Map<string, Set<() => void>>();
  const exits: number[] = [];
  return {
    onSignal(signal, handler) {
      let set = handlers.get(signal);
      if (!set) handlers.set(signal, (set = new Set()));
      set.add(handler);
      return () => set.delete(handler);
    },
    exit: (code) => {
      exits.push(code);
    },
    pid: 0,
    env,
    raise(signal) {
      for (const h of [...(handlers.get(signal) ?? [])]) h();
    },
    exits,
  };
}
