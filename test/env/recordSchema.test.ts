// docs/logging.md's one record schema, checked over the source: a record says what happened in
// one `report` key (`store_commit_failed`, `discovery_nodeup`, `nats_reconnect`), never a
// `report: '<subsystem>'` plus an `event` key (the cluster's and jobs' form before the fold).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

describe('record schema (docs/logging.md)', () => {
  const sites = walk(join(root, 'src')).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `${relative(root, f)}:${i + 1}`, line }))
      .filter(({ line }) => /\.(trace|debug|info|warn|error|fatal)\(\{/.test(line)),
  );

  it('finds the log sites', () => {
    expect(sites.length).toBeGreaterThan(100);
  });

  it('no record carries an event key; every report is one snake_case kind', () => {
    expect(sites.filter(({ line }) => /\.(trace|debug|info|warn|error|fatal)\(\{[^}]*\bevent:/.test(line)).map((s) => s.where)).toEqual([]);
    const reports = sites.flatMap(({ where, line }) => [...line.matchAll(/\breport: '([^']*)'/g)].map((m) => ({ where, kind: m[1]! })));
    expect(reports.length).toBeGreaterThan(50);
    expect(reports.filter(({ kind }) => !/^[a-z]+(_[a-z0-9]+)*$/.test(kind))).toEqual([]);
    // a bare subsystem name is not a kind (the old `report: 'discovery'` + `event` form)
    expect(reports.filter(({ kind }) => ['discovery', 'election', 'replication', 'nats', 'cluster', 'jobs'].includes(kind)).map((r) => r.where)).toEqual([]);
  });
});
