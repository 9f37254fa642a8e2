// The public surface is deliberate: api-extractor's report of every entry point must equal the
// checked-in api/*.api.md. A change of an export (added, removed, retyped) fails here until the
// reports are regenerated with `npm run api:update` and reviewed in the diff.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryPoints, generateReports } from '../../scripts/apiReport.ts';

const apiDir = join(import.meta.dirname, '..', '..', 'api');

describe('API report', () => {
  it('every entry point in package.json exports has a report, and nothing else does', () => {
    const checkedIn = readdirSync(apiDir).filter((f) => f.endsWith('.api.md')).sort();
    expect(entryPoints().map((e) => `${e.report}.api.md`).sort()).toEqual(checkedIn);
  });

  it('the public surface equals api/*.api.md (run `npm run api:update` after a deliberate change)', () => {
    const reports = generateReports();
    for (const [file, text] of reports) expect(text, `api/${file} is stale: run npm run api:update`).toBe(readFileSync(join(apiDir, file), 'utf8'));
  }, 300_000);
});
