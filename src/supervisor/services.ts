import type { AnyStateMachine, ContextFrom, InputFrom, SnapshotFrom } from 'xstate';
import type { StartResult } from '../actors/index.ts';
import type { ChildSpec, DepsOf, InputContext, Requirements, ServiceTag, StartContext } from './types.ts';

/**
 * A typed service key (Effect's `Context.Tag`): the provider's `provides` and each dependent's
 * `requires` name the same tag, so the service's type travels with it — wiring a `Store` where
 * a `Cache` is required does not type-check.
 *
 * @example
 * import { child, service } from 'ordo';
 * import { storeInitializerMachine, type Store } from 'ordo/store';
 * import { cacheLoaderMachine, storeTableSource } from 'ordo/cache';
 *
 * const tables = { users: { type: 'set', key: 'id', attributes: { id: { type: 'string' } } } } as const;
 * const StoreTag = service<Store>('store');
 * child({ id: 'store', start: { machine: storeInitializerMachine, input: ({ env }) => ({ env, dir: './data/store', tables }) }, provides: StoreTag });
 * child({ id: 'cache', requires: { store: StoreTag }, start: { machine: cacheLoaderMachine, input: ({ env, deps }) => ({ env, name: 'users', source: deps.store, spec: storeTableSource('users') }) } });
 */
export function service<T>(key: string): ServiceTag<T> {
  return { key };
}

/** The service a machine provides by default: its ready snapshot's `context.service`. */
export type ServiceOf<M extends AnyStateMachine> = ContextFrom<M> extends { service?: infer S } ? NonNullable<S> : never;

/** How a typed child provides its service: the tag (read from `context.service`), or a tag and a selector. */
export type TypedProvides<M extends AnyStateMachine> = ServiceTag<ServiceOf<M>> | { service: ServiceTag<any>; select: (snapshot: SnapshotFrom<M>) => unknown };

/** A machine start whose input is typed from the machine: a value, or a function of the typed context. */
export interface TypedMachineStart<M extends AnyStateMachine, Deps> {
  machine: M;
  input?: InputFrom<M> | ((ctx: InputContext<Deps>) => InputFrom<M>);
  name?: string;
  trapExit?: boolean;
}

/** A child spec checked against its machine and its requirements (what {@link child} takes). */
export interface TypedChildSpec<M extends AnyStateMachine, R extends Requirements> extends Omit<ChildSpec, 'start' | 'provides' | 'requires'> {
  requires?: R;
  start: TypedMachineStart<M, DepsOf<R>> | ((ctx: StartContext<DepsOf<R>>) => StartResult | Promise<StartResult>);
  provides?: TypedProvides<M>;
}

/**
 * Builds a child spec with its types checked: `start.input` against the machine's input type,
 * `deps` from `requires` (`{ store: StoreTag }` → `deps.store: Store`), and `provides` against
 * the machine's `context.service`. Returns the plain {@link ChildSpec} a supervisor takes.
 *
 * @example
 * import { child, service } from 'ordo';
 * import type { Store } from 'ordo/store';
 * import { cacheLoaderMachine, storeTableSource, type Cache } from 'ordo/cache';
 *
 * const StoreTag = service<Store>('store');
 * const CacheTag = service<Cache>('users');
 * const spec = child({
 *   id: 'users',
 *   requires: { store: StoreTag },
 *   start: { machine: cacheLoaderMachine, input: ({ env, deps }) => ({ env, name: 'users', source: deps.store, spec: storeTableSource('users') }) },
 *   provides: CacheTag,
 * });
 * console.log(spec.requires); // { store: { key: 'store' } }
 */
export function child<M extends AnyStateMachine, const R extends Requirements = {}>(spec: TypedChildSpec<M, R>): ChildSpec {
  return spec as unknown as ChildSpec;
}
