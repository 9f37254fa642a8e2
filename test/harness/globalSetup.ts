/**
 * Vitest global setup: runs once, before any test file. Installs `nats-server` from Debian's
 * packages when it is missing — once, here, so parallel test files never race for apt's lock.
 * Each suite then starts its own server on a free port (`test/harness/nats.ts`).
 */
import { ensureNatsServer } from './nats.ts';

export default function setup(): void {
  ensureNatsServer();
}
