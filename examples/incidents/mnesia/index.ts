/**
 * The Mnesia setup's documented failure modes (`shared/seeds/000_3672b0fb21e0eb8d.txt`): schema
 * migrations, dead nodes, the delete-and-recreate fallback — replayed as chaos scenarios.
 */
import type { Incident } from '../../../src/chaos/incidents.ts';
import { deadNodeMigration } from './deadNodeMigration.ts';
import { nodeName } from './nodeName.ts';
import { rollingDeploy } from './rollingDeploy.ts';

export const incident: Incident = {
  id: 'mnesia',
  title: "Mnesia's migrations: dead nodes in the schema, the delete-and-recreate fallback, node names and rolling deploys",
  steps: [deadNodeMigration, nodeName, rollingDeploy],
};
