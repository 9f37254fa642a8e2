import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore } from '../../src/store/openStore.ts';
import { createSeededRandom } from '../../src/env/random.ts';
import { env, tempDir } from './helpers.ts';
import { type FixtureChild, spawnFixture } from './fixtureChild.ts';
import { tortureTables } from './fixtures/tortureSchema.ts';

// kill -9 with the strict commit pipeline at work (commitPipeline.ts): 16 writers on keys of
// their own, so a batch is written while the one ahead waits for its marker's fdatasync. After
// every kill the store opens (the digests and commit sequences of batches built ahead of others
// check), nothing acknowledged is lost, and each writer's counter counts exactly its items on
// disk (each transaction took whole or not at all: a prefix of the commits).

const fixture = join(import.meta.dirname, 'fixtures', 'tortureChild.ts');
const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

/** The child in `write-pipe` mode; `behind()`: the most commit writes it issued behind another, so far. */
function child(args: string[]): FixtureChild & { behind: () => number } {
  let behind = 0;
  const c = spawnFixture(fixture, args, (l) => {
    if (l.startsWith('ack ')) behind = Math.max(behind, Number(l.split(' ')[3] ?? 0));
  });
  return { ...c, behind: () => behind };
}

const KILLS = Number(process.env['ORDO_PIPE_KILLS'] ?? 12);

describe('strict commit pipeline: kill -9 of a real child process', () => {
  it(`every acknowledged commit survives ${KILLS} kill -9s with batches written behind each other; each writer's counter = its items`, async () => {
    const { dir, cleanup } = tempDir('ordo-pipe-kill-');
    cleanups.push(cleanup);
    const rnd = createSeededRandom(20261203);
    const e = env();
    const acked = new Set<number>();
    let behind = 0;
    for (let cycle = 0; cycle < KILLS; cycle++) {
      const c = child(['write-pipe', dir]);
      await c.waitFor((l) => l === 'ready');
      await c.waitFor(() => c.acks.length >= 1 + rnd.int(300));
      c.proc.kill('SIGKILL');
      await c.exited;
      for (const a of c.acks) acked.add(a);
      behind += c.behind();
      const s = await openStore({ env: e, dir, tables: tortureTables });
      try {
        expect([...acked].filter((id) => s.get('items', id) === undefined)).toEqual([]);
        expect((await s.verify()).problems).toEqual([]);
        const per = new Map<string, number>();
        for (const r of s.range('items')) per.set(r['tag'] as string, (per.get(r['tag'] as string) ?? 0) + 1);
        const counters = new Map(s.range('counters').map((r) => [r['name'] as string, r['value'] as number]));
        expect(counters).toEqual(per);
        expect(s.indexRange('items', 'n').length).toBe(s.count('items'));
      } finally {
        await s.close();
      }
    }
    expect(acked.size).toBeGreaterThan(50);
    // commit writes were issued while another waited for its mark
    expect(behind).toBeGreaterThan(0);
  }, 300_000);
});
