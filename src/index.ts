// Ordo's public API: explicit named exports only.
export type { Env, Clock, Random, IdSource, Logger, TestEnv, VirtualClock } from './env/index.ts';
export { createRealEnv, createTestEnv } from './env/index.ts';
