/**
 * @internal Test-only switches that re-inject known defects, so the chaos engine's power tests
 * can show it finds them (test/chaos/power.test.ts). Not exported from any entry point; every
 * flag is false in production and nothing but those tests sets one.
 */
export const __chaosBugs = {
  /** A machine process reports ready as soon as its actor starts, before the `ready` tag. */
  earlyReady: false,
  /** The supervisor's shutdown of a child resolves when the stop is sent, not when the child is down. */
  shutdownNoWait: false,
  /** The restart-intensity window drops the oldest restart too early (miscounts by one). */
  intensityMiscount: false,
};
