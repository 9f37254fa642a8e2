// The reference tree (examples/boot) with its job runner, single node on real RocksDB: the
// sample worker fires on its cron schedule and records its snapshot with the job's completion;
// the runner's counts reach /metrics and /tree through the health endpoint.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryLogger, createRealEnv, startApplication } from '../../src/index.ts';
import { bootTree } from '../../examples/boot/tree.ts';
import { freePort } from '../harness/nats.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the reference tree runs the job runner', () => {
  it('boots with the runner between the caches and the endpoint; /metrics and /tree show the jobs', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ordo-boot-jobs-'));
    const { logger } = createMemoryLogger('warn');
    const env = createRealEnv({ logger });
    const port = await freePort();
    const app = startApplication({ name: 'boot-jobs', env, handleSignals: false, tree: bootTree({ dataDir, httpPort: port, httpHost: '127.0.0.1' }) });
    cleanups.push(async () => {
      await app.stop({ deadlineMs: 15_000 });
      rmSync(dataDir, { recursive: true, force: true });
    });
    await app.ready;
    const ids = app.health().children.map((c) => c.id);
    expect(ids.indexOf('jobs')).toBeGreaterThan(ids.indexOf('bux'));
    expect(ids.indexOf('jobs')).toBeLessThan(ids.indexOf('health'));
    const url = `http://127.0.0.1:${port}`;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/ordo_jobs_running\{queue="maintenance"\} 0/);
    const tree = (await (await fetch(`${url}/tree`)).json()) as { sources?: { jobs?: { status: string; leader: boolean } } };
    expect(tree.sources?.jobs).toMatchObject({ status: 'ok', leader: true });
  }, 60_000);
});
