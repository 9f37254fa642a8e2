// Importing Ordo and starting a supervisor loads neither the NATS client nor RocksDB's native
// binding: they load on first use (a NATS connect, a store open). Checked in a fresh process.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ordoSource } from '../support/ordoCli.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'loadedNative.mjs');
const loaderArgs = ordoSource.slice(0, 3); // --import tsx --conditions=ordo-source

function probe(...args: string[]): { started: string; nats: number; rocksdbJs: number; rocksdbNative: number } {
  return JSON.parse(execFileSync(process.execPath, [...loaderArgs, fixture, ...args], { encoding: 'utf8' }).trim()) as never;
}

describe('lazy native loading', () => {
  it('importing ordo and starting a one-child supervisor loads no NATS module and no RocksDB binding', () => {
    expect(probe()).toEqual({ started: 'ok', nats: 0, rocksdbJs: 0, rocksdbNative: 0 });
  });

  it('opening a store loads the binding (the probe sees it)', () => {
    expect(probe('open-store')).toMatchObject({ started: 'ok', nats: 0, rocksdbNative: 1 });
  });
});
