import type { Pid } from '../actors/index.ts';
import type { ChildRecord } from './childRecord.ts';

/** Where a required service stands: ready (with its value), declared but its provider not ready, or provided by no one. */
export type ServiceState = { readonly status: 'ready'; readonly value: unknown } | { readonly status: 'waiting'; readonly provider: string } | { readonly status: 'missing' };

/** @internal The services a supervisor can see: its own providers first, then its ancestors'. */
export interface ServiceDirectory {
  lookup(name: string): ServiceState;
  /** Calls `onReady` (once) when `name` becomes ready; returns a cancel function. */
  watch(name: string, onReady: () => void): () => void;
}

/** A record's requirements resolved: every service ready (by the name the child asked for), or the first one that is not. */
export type ResolvedDeps = { readonly status: 'ok'; readonly deps: Record<string, unknown> } | { readonly status: 'parked' | 'missing'; readonly service: string };

const MISSING: ServiceState = { status: 'missing' };

/**
 * @internal One supervisor's services (beyond OTP: dependencies are Ordo's): what its ready
 * children provide, who waits for them, and the directory its nested supervisors look services
 * up in — its own providers first, then its ancestors'. The supervisor server decides when a
 * child parks and resumes; this keeps the books.
 */
export class ChildServices {
  private readonly ready = new Map<string, { pid: Pid; value: unknown }>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly children: readonly ChildRecord[];
  private readonly parent: ServiceDirectory | undefined;

  /** `children`: the supervisor's static children (live array: providers are found in it). */
  constructor(children: readonly ChildRecord[], parent: ServiceDirectory | undefined) {
    this.children = children;
    this.parent = parent;
  }

  /** The static child that provides `name`, if one does. */
  ownProvider(name: string): ChildRecord | undefined {
    for (const c of this.children) if (c.spec.provides?.name === name) return c;
    return undefined;
  }

  lookup(name: string): ServiceState {
    const own = this.ready.get(name);
    if (own) return { status: 'ready', value: own.value };
    const provider = this.ownProvider(name);
    if (provider) return { status: 'waiting', provider: provider.spec.id };
    return this.parent ? this.parent.lookup(name) : MISSING;
  }

  /** The directory nested supervisors look services up in. */
  readonly directory: ServiceDirectory = {
    lookup: (name) => this.lookup(name),
    watch: (name, onReady) => {
      if (!this.ownProvider(name)) return this.parent?.watch(name, onReady) ?? (() => undefined);
      let set = this.watchers.get(name);
      if (!set) this.watchers.set(name, (set = new Set()));
      set.add(onReady);
      return () => set.delete(onReady);
    },
  };

  /** Asks an ancestor to tell when `name` is ready — unless a child of ours provides it (it resumes us by itself). */
  watchAncestor(name: string, onReady: () => void): void {
    if (!this.ownProvider(name)) this.parent?.watch(name, onReady);
  }

  /** Every requirement of `rec` resolved, or the first one not ready (its provider starting) or provided by no one. */
  resolve(rec: ChildRecord): ResolvedDeps {
    const requires = rec.spec.requires;
    const deps: Record<string, unknown> = {};
    for (let i = 0; i < requires.length; i++) {
      const { as, service } = requires[i]!;
      const found = this.lookup(service);
      if (found.status === 'ready') deps[as] = found.value;
      else return { status: found.status === 'waiting' ? 'parked' : 'missing', service };
    }
    return { status: 'ok', deps };
  }

  /** `pid` (a ready child) provides `name`: recorded, and whoever watched for it is told. */
  provide(name: string, pid: Pid, value: unknown): void {
    this.ready.set(name, { pid, value });
    const set = this.watchers.get(name);
    if (!set) return;
    this.watchers.delete(name);
    for (const fn of set) fn();
  }

  /** `pid` stopped: the service it provided is gone (not if another process provides it by now). */
  withdraw(name: string, pid: Pid): void {
    if (this.ready.get(name)?.pid === pid) this.ready.delete(name);
  }
}
