/**
 * Vitest global setup. Shared, process-wide preparation for the suites lives here; the
 * NATS harness (`test/harness/nats.ts`) installs and starts servers per suite.
 */
export default function setup(): void {}
