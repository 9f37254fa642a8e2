// Typed services (issue 8 item 4): `provides`/`requires` carry the service's type, `start.input`
// is typed from the machine's input. The `@ts-expect-error` lines are the proof: `tsc -p .`
// (npm run typecheck, CI) fails if any of them stops being an error. The runtime part checks the
// typed specs also work.
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { child, createKernel, createTestEnv, service, startChild, startSupervisor, whichChildren, type ChildSpec } from '../../src/index.ts';

interface Store {
  get(key: string): string | undefined;
}
interface Cache {
  hits(): number;
}
const StoreTag = service<Store>('store');
const CacheTag = service<Cache>('cache');

const storeMachine = setup({ types: { context: {} as { service: Store } } }).createMachine({
  context: { service: { get: (k: string) => `v:${k}` } },
  initial: 'up',
  states: { up: { tags: ['ready'] } },
});
const cacheMachine = setup({ types: { input: {} as { store: Store }, context: {} as { store: Store; service: Cache } } }).createMachine({
  context: ({ input }) => ({ store: input.store, service: { hits: () => (input.store.get('x') ? 1 : 0) } }),
  initial: 'up',
  states: { up: { tags: ['ready'] } },
});
const apiMachine = setup({ types: { input: {} as { cache: Cache } } }).createMachine({ initial: 'up', states: { up: { tags: ['ready'] } } });

// --- what must type-check ---------------------------------------------------------------------
const storeSpec = child({ id: 'store', start: { machine: storeMachine }, provides: StoreTag });
const cacheSpec = child({ id: 'cache', requires: { store: StoreTag }, start: { machine: cacheMachine, input: ({ deps }) => ({ store: deps.store }) }, provides: CacheTag });
const apiSpec = child({ id: 'api', requires: { cache: CacheTag }, start: { machine: apiMachine, input: ({ deps }) => ({ cache: deps.cache }) } });
const tree: ChildSpec[] = [storeSpec, cacheSpec, apiSpec];

// --- what must not ----------------------------------------------------------------------------
// a Store wired where a Cache is required
// @ts-expect-error deps.store is a Store, the api machine's input wants a Cache
child({ id: 'bad1', requires: { store: StoreTag }, start: { machine: apiMachine, input: ({ deps }) => ({ cache: deps.store }) } });
// a service the child does not require is not in deps
// @ts-expect-error deps has no 'cache': only what `requires` names
child({ id: 'bad2', requires: { store: StoreTag }, start: { machine: apiMachine, input: ({ deps }) => ({ cache: deps.cache }) } });
// a machine providing a Cache under the Store tag
// @ts-expect-error cacheMachine's context.service is a Cache, not a Store
child({ id: 'bad3', requires: { store: StoreTag }, start: { machine: cacheMachine, input: ({ deps }) => ({ store: deps.store }) }, provides: StoreTag });
// a tag of one type is not a tag of another
// @ts-expect-error ServiceTag<Store> is not a ServiceTag<Cache>
const wrongTag: typeof CacheTag = StoreTag;
// the input value is checked against the machine's input type
// @ts-expect-error apiMachine's input is { cache: Cache }
child({ id: 'bad4', start: { machine: apiMachine, input: { cache: 42 } } });
void wrongTag;

describe('typed services', () => {
  it('a typed tree starts and wires each service by its tag', async () => {
    const env = createTestEnv();
    const kernel = createKernel(env);
    const r = await startSupervisor(kernel, { strategy: 'rest_for_one', children: tree });
    expect(r.status).toBe('ok');
    if (r.status !== 'ok') return;
    expect((await whichChildren(kernel, r.pid)).map((c) => c.id)).toEqual(['api', 'cache', 'store']);
    // startChild takes a typed spec
    const extra = await startChild(kernel, r.pid, child({ id: 'api2', requires: { cache: CacheTag }, start: { machine: apiMachine, input: ({ deps }) => ({ cache: deps.cache }) } }));
    expect(extra.ok).toBe(true);
  });
});
