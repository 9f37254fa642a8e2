import type { Random } from '../env/random.ts';
import { createSeededRandom } from '../env/random.ts';

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The seed of stream `name` under `rootSeed`: a hash of both, so each stream's sequence depends
 * only on (root seed, its own name). Adding, removing or drawing more from one stream never
 * shifts another — a new fault point does not change the schedule of a seed found last week.
 *
 * @example
 * import { streamSeed } from 'ordo/chaos';
 *
 * console.log(streamSeed(42, 'schedule') !== streamSeed(42, 'faults')); // true: independent streams
 */
export function streamSeed(rootSeed: number, name: string): number {
  let h = fmix32((rootSeed >>> 0) ^ 0x9e3779b9);
  for (let i = 0; i < name.length; i++) h = fmix32(h ^ Math.imul(name.charCodeAt(i) + 1, 0x01000193));
  return fmix32(h ^ name.length);
}

/** One root seed split into named, independent PRNG streams. */
export interface RandomStreams {
  readonly rootSeed: number;
  /** The stream called `name` (created on first use, then the same object). */
  stream(name: string): Random;
}

/**
 * Splits `rootSeed` into named streams (see {@link streamSeed}).
 *
 * @example
 * import { createRandomStreams } from 'ordo/chaos';
 *
 * const streams = createRandomStreams(7);
 * const jitter = streams.stream('env.random').next(); // the same on every run with root seed 7
 * console.log(jitter);
 */
export function createRandomStreams(rootSeed: number): RandomStreams {
  const made = new Map<string, Random>();
  return {
    rootSeed,
    stream(name) {
      let r = made.get(name);
      if (!r) made.set(name, (r = createSeededRandom(streamSeed(rootSeed, name))));
      return r;
    },
  };
}
