/**
 * Vitest global setup: runs once, before any test file. Installs `nats-server` from Debian's
 * packages when it is missing — once, here, so parallel test files never race for apt's lock.
 * Each suite then starts its own server on a free port (`test/harness/nats.ts`).
 *
 * It also gives the run one temporary root: `TMPDIR` points at a fresh directory for every test
 * worker and every process they spawn (`os.tmpdir()` reads it), so each temp directory a test
 * makes — data dirs of killed node processes included — is removed with the root when the run
 * ends, instead of thousands of them piling up under /tmp across runs. `ORDO_KEEP_TMP=1` keeps
 * the root (its path is printed) to look at after a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsServer } from './nats.ts';

export default function setup(): () => void {
  ensureNatsServer();
  const root = mkdtempSync(join(tmpdir(), 'ordo-test-run-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    if (process.env.ORDO_KEEP_TMP === '1') console.log(`ordo: test temp root kept at ${root}`);
    else rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  };
}
