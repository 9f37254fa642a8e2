// Cache loaders (issue 9 item 2): on the virtual clock with a scripted source, and under a tree
// with the real store (RocksDB in a temp dir).
import { afterEach, describe, expect, it } from 'vitest';
import { child, createKernel, createTestEnv, service, startApplication, whichChildren, type LifecycleEvent, type Pid } from '../../src/index.ts';
import { cacheLoaderMachine, storeTableSource, type Cache, type CacheChange, type CacheSourceSpec } from '../../src/cache/index.ts';
import { storeInitializerMachine } from '../../src/store/initializerMachine.ts';
import type { Store } from '../../src/store/index.ts';
import { tempDir, userBuxPoints } from '../store/helpers.ts';
import { worker } from '../support/machines.ts';
import { waitFor } from '../harness/nats.ts';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A source the test scripts: `failing` makes loads throw; `emit` sends a change event. */
class Source {
  rows = new Map<string, number>([['a', 1], ['b', 2]]);
  failing = false;
  loads = 0;
  private listener: ((c: CacheChange<string, number>) => void) | undefined;
  spec: CacheSourceSpec<Source, string, number> = {
    load: async (s) => {
      s.loads++;
      if (s.failing) throw Object.assign(new Error('source unreachable'), { code: 'ECONNREFUSED' });
      return [...s.rows];
    },
    loadOne: (s, key) => s.rows.get(key),
    subscribe: (s, onChange) => {
      s.listener = onChange;
      return () => (s.listener = undefined);
    },
  };
  emit(c: CacheChange<string, number>): void {
    this.listener?.(c);
  }
}
const CacheTag = service<Cache<string, number>>('numbers');

function boot(source: Source, refreshEveryMs?: number) {
  const probe: { cache?: Cache<string, number> } = {};
  const env = createTestEnv();
  const kernel = createKernel(env);
  const app = startApplication({
    name: 'app',
    env,
    kernel,
    tree: {
      strategy: 'one_for_one',
      maxRestarts: 0,
      children: [
        child({
          id: 'numbers',
          start: { machine: cacheLoaderMachine, input: ({ env }) => ({ env, name: 'numbers', source, spec: source.spec, retry: { initialMs: 1000, maxMs: 8000, factor: 2, jitter: 0 }, refreshEveryMs }) },
          provides: CacheTag,
        }),
        child({ id: 'probe', requires: { cache: CacheTag }, start: { machine: worker, input: ({ deps }) => ((probe.cache = deps.cache), {}) } }),
      ],
    },
  });
  return { env, kernel, app, probe };
}
const serviceOf = (t: ReturnType<typeof boot>): Cache<string, number> => t.probe.cache!;

describe('cache loader on the virtual clock', () => {
  it('loads, serves get/getOrLoad, counts hits and misses, follows change events', async () => {
    const source = new Source();
    const t = boot(source);
    await t.app.ready;
    const cache = serviceOf(t);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('zz')).toBeUndefined();
    source.rows.set('c', 3);
    expect(await cache.getOrLoad('c')).toBe(3);
    expect(cache.get('c')).toBe(3);
    source.emit({ op: 'put', key: 'a', value: 10 });
    source.emit({ op: 'delete', key: 'b' });
    expect(cache.get('a')).toBe(10);
    expect(cache.has('b')).toBe(false);
    expect(cache.stats()).toMatchObject({ status: 'ready', size: 2, hits: 3, misses: 2, hitRate: 3 / 5, loads: 1, invalidations: 2, stale: false });
  });

  it('a failing first load is degraded and retried with backoff inside the machine — the supervisor sees no crash', async () => {
    const source = new Source();
    source.failing = true;
    const t = boot(source);
    await t.env.clock.advance(1);
    expect(t.app.health()).toMatchObject({ status: 'degraded', reason: { child: 'numbers', error: { message: 'source unreachable' } } });
    await t.env.clock.advance(1000 + 2000 + 4000 + 8000 + 8000); // attempts at 0, 1 s, 3 s, 7 s, 15 s, 23 s
    expect(source.loads).toBe(6);
    expect(serviceOf(t).stats()).toMatchObject({ status: 'degraded', size: 0, loads: 0, lastError: { message: 'source unreachable' } });
    source.failing = false;
    await t.env.clock.advance(8000);
    expect(serviceOf(t).stats()).toMatchObject({ status: 'ready', size: 2, loads: 1 });
    expect(t.app.health().status).toBe('ready');
    expect(t.env.records.filter((r) => r['report'] === 'child_terminated' || r['report'] === 'crash_report')).toEqual([]);
  });

  it('a refresh that fails serves the old data, stale, with its age; back to fresh when the source is', async () => {
    const source = new Source();
    const t = boot(source, 60_000);
    await t.app.ready;
    const cache = serviceOf(t);
    source.failing = true;
    source.rows.set('a', 100);
    await t.env.clock.advance(60_000); // the periodic refresh fails
    await t.env.clock.advance(30_000);
    expect(cache.get('a')).toBe(1); // the old value, still served
    const s = cache.stats();
    expect(s).toMatchObject({ status: 'stale', stale: true, size: 2, lastError: { message: 'source unreachable' } });
    expect(s.ageMs).toBe(90_000);
    expect(t.app.health()).toMatchObject({ status: 'degraded', reason: { child: 'numbers' } });
    source.failing = false;
    await t.env.clock.advance(8000);
    expect(cache.get('a')).toBe(100);
    expect(cache.stats()).toMatchObject({ status: 'ready', stale: false, ageMs: expect.any(Number) });
    expect(cache.stats().ageMs!).toBeLessThan(8000);
  });

  it("an 'all' change reloads while serving; a change during a load is not lost", async () => {
    const source = new Source();
    const t = boot(source);
    await t.app.ready;
    const cache = serviceOf(t);
    source.rows.set('b', 20);
    source.emit({ op: 'all' });
    await t.env.clock.flush();
    expect(cache.get('b')).toBe(20);
    expect(source.loads).toBe(2);
  });
});

const StoreTag = service<Store>('store');
const BuxTag = service<Cache<string, { bux_balance: number }>>('bux');

describe('cache loader under a tree with the real store', () => {
  it('never reads before the store is ready (trace), follows the store’s writes, and a store restart restarts the cache after it', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const env = createTestEnv({ level: 'warn' });
    const kernel = createKernel(env);
    const trace: string[] = [];
    const seen: { store?: Store; bux?: Cache<string, { bux_balance: number }> } = {};
    kernel.onLifecycle((e: LifecycleEvent) => (e.type === 'ready' ? trace.push(`ready ${String(e.pid)}`) : undefined));
    const base = storeTableSource<string, { bux_balance: number }>('user_bux_points', { map: (r) => ({ bux_balance: r['bux_balance'] as number }) });
    const spec: CacheSourceSpec<Store, string, { bux_balance: number }> = { ...base, load: (s) => (trace.push(`load ${s.isClosed ? 'closed' : 'open'}`), base.load(s)) };
    const app = startApplication({
      name: 'shop',
      env,
      kernel,
      tree: {
        strategy: 'rest_for_one',
        maxRestarts: 3,
        periodMs: 60_000,
        children: [
          child({ id: 'store', start: { machine: storeInitializerMachine, input: ({ env }) => ({ env, dir, tables: { user_bux_points: userBuxPoints } }) }, provides: StoreTag }),
          child({ id: 'bux', requires: { store: StoreTag }, start: { machine: cacheLoaderMachine, input: ({ env, deps }) => ({ env, name: 'bux', source: deps.store, spec }) }, provides: BuxTag }),
          child({ id: 'api', requires: { store: StoreTag, bux: BuxTag }, start: { machine: worker, input: ({ deps }) => ((seen.store = deps.store), (seen.bux = deps.bux), {}) } }),
        ],
      },
    });
    const root = await app.ready;
    const kids = async () => new Map((await whichChildren(kernel, root)).map((c) => [c.id, c.pid as Pid]));
    const first = await kids();
    expect(trace).toEqual([`ready ${String(first.get('store'))}`, 'load open', `ready ${String(first.get('bux'))}`, `ready ${String(first.get('api'))}`]);
    await seen.store!.dirtyPut('user_bux_points', { user_id: 'u1', bux_balance: 7 });
    expect(seen.bux!.get('u1')).toEqual({ bux_balance: 7 });
    const firstBux = seen.bux;
    // the store crashes: rest_for_one restarts it, then the cache after it
    trace.length = 0;
    kernel.exit(first.get('store')!, 'disk_hiccup');
    const restarted = async (): Promise<boolean> => {
      const k = await kids();
      return app.health().status === 'ready' && k.get('api') !== undefined && k.get('api') !== first.get('api');
    };
    // real disk (the store closes and reopens): no bound on how fast, a named wait
    await waitFor(() => restarted().then((r) => r || undefined), 'the store, then the cache, then the api restarted', 45_000, 5);
    const second = await kids();
    expect(second.get('store')).not.toBe(first.get('store'));
    expect(second.get('bux')).not.toBe(first.get('bux'));
    expect(trace).toEqual([`ready ${String(second.get('store'))}`, 'load open', `ready ${String(second.get('bux'))}`, `ready ${String(second.get('api'))}`]);
    expect(seen.bux).not.toBe(firstBux);
    expect(seen.bux!.get('u1')).toEqual({ bux_balance: 7 }); // reloaded from the reopened store
    await app.stop();
  });
});
