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
    // test/cluster/failover.test.ts runs one kill round here; `npm run test:failover` runs more.
    exclude: configDefaults.exclude,
    globalSetup: ['test/harness/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
});
