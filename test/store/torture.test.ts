import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore } from '../../src/store/openStore.ts';
import { restoreStore } from '../../src/store/restore.ts';
import { createSeededRandom } from '../../src/env/random.ts';
import { env, tempDir } from './helpers.ts';
import { type FixtureChild, spawnFixture } from './fixtureChild.ts';
import { tortureMigrations, tortureTables, tortureV1 } from './fixtures/tortureSchema.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'tortureChild.ts');
const cleanups: Array<() => void> = [];
afterAll(() => cleanups.forEach((c) => c()));

const child = (args: string[]): FixtureChild => spawnFixture(fixture, args);

// `npm run torture:kill` runs the long version (ORDO_TORTURE_KILLS=200)
const KILLS = Number(process.env['ORDO_TORTURE_KILLS'] ?? 50);

describe('crash durability torture (kill -9 of a real child process)', () => {
  it(`every acknowledged synced transaction survives ${KILLS} kill -9s; indexes agree with rows; the store opens cleanly each time`, async () => {
    const { dir, cleanup } = tempDir('ordo-torture-');
    cleanups.push(cleanup);
    const rnd = createSeededRandom(20261121);
    const e = env();
    const acked = new Set<number>();
    let kills = 0;
    for (let cycle = 0; cycle < KILLS; cycle++) {
      const c = child(['write', dir]);
      await c.waitFor((l) => l === 'ready');
      const target = 1 + rnd.int(400);
      // kill at a random moment: after a random number of acknowledgements
      await c.waitFor(() => c.acks.length >= target);
      c.proc.kill('SIGKILL');
      await c.exited;
      kills++;
      for (const a of c.acks) acked.add(a);
      if (process.env['ORDO_TORTURE_KILLS'] && kills % 10 === 0) process.stderr.write(`torture: ${kills} kill -9s, ${acked.size} acknowledged so far\n`);
      const s = await openStore({ env: e, dir, tables: tortureTables });
      try {
        const missing = [...acked].filter((id) => s.get('items', id) === undefined);
        expect(missing).toEqual([]);
        const report = await s.verify();
        expect(report.problems).toEqual([]);
        // the counter is updated in the same transactions: it counts every committed one
        expect(s.get('counters', 'total')?.value).toBe(s.count('items'));
        expect(s.indexRange('items', 'n').length).toBe(s.count('items'));
      } finally {
        await s.close();
      }
    }
    expect(kills).toBe(KILLS);
    if (process.env['ORDO_TORTURE_KILLS']) process.stdout.write(`torture: ${kills} kill -9s, ${acked.size} acknowledged transactions, 0 lost\n`);
    expect(acked.size).toBeGreaterThan(50);
    // every reopen reads the whole store (rows, on-disk index, change log): the long run's bound is generous
  }, 900_000 * Math.max(1, KILLS / 50));

  it('a migration killed at random moments completes on reopen with no half-migrated row visible (10 kills, auto and numbered)', async () => {
    const { dir, cleanup } = tempDir('ordo-torture-mig-');
    cleanups.push(cleanup);
    const e = env();
    const rnd = createSeededRandom(7);
    // the pre-migration store, saved as a backup and restored fresh for every cycle
    const base = await openStore({ env: e, dir: `${dir}/base`, tables: tortureTables });
    const N = 8_000;
    for (let i = 1; i <= N; i += 4000) await base.dirtyPutMany('items', Array.from({ length: 4000 }, (_, j) => ({ id: i + j, n: (i + j) % 97, tag: `t${(i + j) % 13}` })));
    await base.backup(`${dir}/base.ndjson`);
    await base.close();
    let killedMidway = 0;
    for (let cycle = 0; cycle < 10; cycle++) {
      const kind = cycle % 2 === 0 ? 'auto' : 'numbered';
      const d = `${dir}/c${cycle}`;
      await restoreStore(e, `${dir}/base.ndjson`, d);
      const c = child(['migrate', d, kind]);
      await c.waitFor((l) => l === 'opening');
      let finished = false;
      c.waitFor((l) => l === 'migrated').then(
        () => (finished = true),
        () => undefined, // killed before it finished: expected
      );
      await new Promise((r) => setTimeout(r, rnd.int(250)));
      c.proc.kill('SIGKILL');
      await c.exited;
      if (!finished) killedMidway++;
      const s = await openStore({ env: e, dir: d, ...(kind === 'auto' ? { tables: tortureV1.auto } : { tables: tortureV1.numbered, migrations: tortureMigrations }) });
      try {
        expect(s.count('items')).toBe(N);
        const rows = s.range('items');
        if (kind === 'auto') expect(rows.filter((r) => r.tier !== 'bronze')).toEqual([]);
        else {
          expect(s.schemaVersion).toBe(1);
          expect(rows.filter((r) => 'tag' in r || r.label !== `L-t${(r.id as number) % 13}`)).toEqual([]);
        }
        expect((await s.verify()).problems).toEqual([]);
        expect((await s.info()).migrationInProgress).toBeUndefined();
      } finally {
        await s.close();
      }
    }
    // the kills must actually have landed during migrations, not after them
    expect(killedMidway).toBeGreaterThanOrEqual(5);
  }, 400_000);
});
