// The package as a user gets it: `npm pack` (which builds through `prepare`) → the tarball
// unpacked into a temporary project's node_modules, its dependencies linked from this
// repository's node_modules (offline, no registry) → plain `node` runs an .mjs that boots and
// stops a one-child tree, and a strict TypeScript consumer type-checks against the shipped
// declarations, with and without skipLibCheck.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
let dir = '';
let tarball = '';

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Links `name` from the repository's node_modules into the consumer's. */
function link(name: string): void {
  const to = join(dir, 'node_modules', name);
  mkdirSync(dirname(to), { recursive: true });
  symlinkSync(join(root, 'node_modules', name), to, 'dir');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ordo-consumer-'));
  const packed = JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', dir], root)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(dir, packed[0]!.filename);
  mkdirSync(join(dir, 'node_modules', 'ordo'), { recursive: true });
  sh('tar', ['-xzf', tarball, '-C', join(dir, 'node_modules', 'ordo'), '--strip-components=1'], dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'node_modules', 'ordo', 'package.json'), 'utf8')) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
  // only what the package declares (an undeclared import would fail to resolve), plus the consumer's tools
  for (const name of [...Object.keys(manifest.dependencies), ...Object.keys(manifest.peerDependencies), 'typescript', '@types/node']) link(name);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships dist, docs, README, LICENSE and package.json — no source, test, bench or CI file', () => {
    const files = sh('tar', ['-tzf', tarball], dir).trim().split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'bin/ordo.js', 'dist/index.js', 'dist/index.d.ts', 'dist/store/index.js', 'dist/cluster/index.js', 'dist/env/index.js']));
    expect(files.filter((f) => !/^(dist\/|docs\/|bin\/ordo\.js$|README\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
    expect(files.filter((f) => /\.ts$/.test(f) && !/\.d\.ts$/.test(f))).toEqual([]);
    expect(readFileSync(join(dir, 'node_modules', 'ordo', 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it('plain node boots a one-child tree from an .mjs and stops it; importing it loads neither NATS nor RocksDB', () => {
    writeFileSync(
      join(dir, 'boot.mjs'),
      `import { createRealEnv, startApplication } from 'ordo';
import { setup } from 'xstate';
const machine = setup({}).createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': 'done' } }, done: { type: 'final' } } });
const app = startApplication({ name: 'consumer', env: createRealEnv({ level: 'silent' }), startType: 'temporary', tree: { strategy: 'one_for_one', children: [{ id: 'only', start: { machine } }] } });
await app.ready;
const up = app.health().children.map((c) => c.id);
const exit = await app.stop();
console.log(JSON.stringify({ resolved: import.meta.resolve('ordo'), up, code: exit.code, reason: exit.reason }));
`,
    );
    const out = spawnSync(process.execPath, ['boot.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout)).toEqual({ resolved: expect.stringMatching(/node_modules\/ordo\/dist\/index\.js$/), up: ['only'], code: 0, reason: 'shutdown' });
    cpSync(join(import.meta.dirname, 'fixtures', 'loadedNative.mjs'), join(dir, 'loadedNative.mjs'));
    const probe = JSON.parse(sh(process.execPath, ['loadedNative.mjs'], dir)) as unknown;
    expect(probe).toEqual({ started: 'ok', nats: 0, rocksdbJs: 0, rocksdbNative: 0 });
  });

  it('the bin runs the compiled CLI with plain node', () => {
    const out = spawnSync(process.execPath, [join(dir, 'node_modules', 'ordo', 'bin', 'ordo.js'), '--help'], { cwd: dir, encoding: 'utf8' });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('Usage:');
  });

  it('a strict TypeScript consumer (nodenext, exactOptionalPropertyTypes, noUncheckedIndexedAccess) type-checks, with and without skipLibCheck', () => {
    writeFileSync(
      join(dir, 'app.ts'),
      `import { createRealEnv, startApplication, OrdoError, type SupervisorSpec, type ApplicationOptions } from 'ordo';
import { openStore, createStoreInitializer, StoreError, type Store, type TableDef } from 'ordo/store';
import { discoveryMachine, ClusterError, type ClusterService } from 'ordo/cluster';
import { createTestEnv, type Env } from 'ordo/env';
import { setup } from 'xstate';

const machine = setup({}).createMachine({ initial: 'up', states: { up: { tags: ['ready'] } } });
const tree: SupervisorSpec = { strategy: 'one_for_one', maxRestarts: 3, periodMs: 5000, children: [{ id: 'only', start: { machine } }] };
const options: ApplicationOptions = { name: 'shop', env: createRealEnv(), tree };
const users: TableDef = { key: 'id', attributes: { id: { type: 'string' } } };
export async function run(env: Env = createTestEnv()): Promise<Store> {
  const app = startApplication(options);
  await app.ready;
  await app.stop();
  return openStore({ env, dir: '/tmp/x', tables: { users } });
}
export function describe(e: unknown): string {
  return e instanceof StoreError || e instanceof ClusterError ? e.code : e instanceof OrdoError ? e.message : String(e);
}
export type Service = ClusterService;
void [createStoreInitializer, discoveryMachine];
`,
    );
    const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
    const base = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, noEmit: true, types: ['node'] };
    const check = (file: string, skipLibCheck: boolean): { status: number | null; errors: string[]; files: string[] } => {
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base, skipLibCheck }, include: [file] }));
      const r = spawnSync(process.execPath, [tsc, '-p', '.', '--listFiles'], { cwd: dir, encoding: 'utf8' });
      const lines = r.stdout.split('\n');
      return { status: r.status, errors: lines.filter((l) => /error TS\d+/.test(l)), files: lines.filter((l) => l.startsWith('/')) };
    };
    // The only errors left are in two dependencies' own declarations under exactOptionalPropertyTypes
    // without skipLibCheck, each named by file and code (README, "TypeScript"): xstate 5.33.3 (the
    // latest 5.x) setup.d.ts TS2344 ×5 — the same with no Ordo at all —, and, only in a program that
    // imports ordo/cluster, @nats-io/nats-core's MsgImpl / NatsConnectionImpl TS2420 ×2.
    const XSTATE = /node_modules\/xstate\/dist\/declarations\/src\/setup\.d\.ts\(\d+,\d+\): error TS2344: /;
    const NATS = /node_modules\/@nats-io\/nats-core\/lib\/(msg|nats)\.d\.ts\(\d+,\d+\): error TS2420: Class '(MsgImpl|NatsConnectionImpl)' incorrectly implements interface '(Msg|NatsConnection)'\./;
    for (const skipLibCheck of [true, false]) {
      const r = check('app.ts', skipLibCheck);
      expect(r.errors.filter((l) => !XSTATE.test(l) && !NATS.test(l)), `skipLibCheck ${skipLibCheck}`).toEqual([]);
      if (skipLibCheck) expect(r.status).toBe(0);
      else expect(r.errors.length).toBeLessThanOrEqual(7);
      // Ordo's types come from the shipped .d.ts, never from TypeScript sources
      const ordoFiles = r.files.filter((l) => l.includes('/node_modules/ordo/'));
      expect(ordoFiles.length).toBeGreaterThan(10);
      expect(ordoFiles.filter((l) => !l.endsWith('.d.ts'))).toEqual([]);
    }
    // A consumer that does not import ordo/cluster: nats.js's declarations are not in its program
    // at all (the Env's NATS seam is opaque until ordo/cluster registers the client's types).
    writeFileSync(
      join(dir, 'local.ts'),
      `import { createTestEnv, startApplication, type SupervisorSpec } from 'ordo';
import { openStore, type TableDef } from 'ordo/store';
import { createRealNatsConnector, type Env } from 'ordo/env';
const tree: SupervisorSpec = { strategy: 'one_for_one', children: [] };
const users: TableDef = { key: 'id', attributes: { id: { type: 'string' } } };
export const go = (env: Env = createTestEnv()) => [startApplication({ name: 'a', env, tree }), openStore({ env, dir: '/tmp/x', tables: { users } }), createRealNatsConnector()];
`,
    );
    const local = check('local.ts', false);
    expect(local.errors.filter((l) => !XSTATE.test(l))).toEqual([]);
    expect(local.files.filter((l) => l.includes('/@nats-io/'))).toEqual([]);
  }, 300_000); // three tsc runs over the shipped declarations
});
