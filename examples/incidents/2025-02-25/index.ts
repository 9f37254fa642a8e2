/**
 * The Feb 25, 2025 deploy night (`shared/seeds/003_a60dd7da4a99dde8.txt`), step by step: each
 * documented failure as a chaos scenario configured as the app was (`asDeployed`, fails on its
 * documented seed) and the Ordo way (`withOrdo`, passes every seed).
 */
import type { Incident } from '../../../src/chaos/incidents.ts';
import { step02 } from './step02-release-command.ts';
import { step03 } from './step03-notifier.ts';
import { step04 } from './step04-peer-module.ts';
import { step05 } from './step05-restart-intensity.ts';
import { step06 } from './step06-cache-fixed-delay.ts';
import { step07 } from './step07-corrupted-disk-copy.ts';
import { step08 } from './step08-initializer-stops-store.ts';
import { step09 } from './step09-cached-build.ts';
import { step10 } from './step10-cluster-join.ts';
import { step11 } from './step11-database-unreachable.ts';

export const incident: Incident = {
  id: '2025-02-25',
  title: 'Feb 25, 2025: a login-URL fix deployed through a night of crash loops',
  steps: [step02, step03, step04, step05, step06, step07, step08, step09, step10, step11],
};
