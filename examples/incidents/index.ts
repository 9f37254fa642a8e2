/**
 * The incident catalogue `ordo replay` reads: every documented incident, replayed as chaos
 * scenarios (see each incident's README).
 */
import type { Incident } from '../../src/chaos/incidents.ts';
import { incident as feb25 } from './2025-02-25/index.ts';
import { incident as mnesia } from './mnesia/index.ts';

export const incidents: readonly Incident[] = [feb25, mnesia];
