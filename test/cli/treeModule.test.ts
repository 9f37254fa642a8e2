// `ordo start --tree MODULE`: the tree comes from a module the CLI is given (src/ never imports
// examples/); a missing module or one without a factory is a typed error naming the module.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTree, TreeModuleError } from '../../src/cli/loadTree.ts';

const dir = mkdtempSync(join(tmpdir(), 'ordo-tree-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadTree', () => {
  it("calls the module's tree(options) with --data and --nats", async () => {
    writeFileSync(join(dir, 'tree.mjs'), "export function tree(o) { return { strategy: 'one_for_one', children: [], meta: o }; }\n");
    expect(await loadTree(join(dir, 'tree.mjs'), { dataDir: '/d', nats: ['nats://x:1'] })).toEqual({ strategy: 'one_for_one', children: [], meta: { dataDir: '/d', nats: ['nats://x:1'] } });
  });

  it('accepts a default export', async () => {
    writeFileSync(join(dir, 'default.mjs'), "export default () => ({ strategy: 'one_for_all', children: [] });\n");
    expect(await loadTree(join(dir, 'default.mjs'), { dataDir: '/d' })).toEqual({ strategy: 'one_for_all', children: [] });
  });

  it('a missing module or one without a factory is a TreeModuleError naming it', async () => {
    writeFileSync(join(dir, 'none.mjs'), 'export const x = 1;\n');
    const missing = await loadTree(join(dir, 'missing.mjs'), { dataDir: '/d' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TreeModuleError);
    expect(missing).toMatchObject({ code: 'ORDO_CLI_TREE_MODULE', module: join(dir, 'missing.mjs'), message: expect.stringContaining('not found') });
    const none = await loadTree(join(dir, 'none.mjs'), { dataDir: '/d' }).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'ORDO_CLI_TREE_MODULE', message: expect.stringContaining("exports no 'tree' function") });
  });
});
