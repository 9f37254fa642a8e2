/**
 * NATS permissions that bind a node's identity to what it may publish: each node is its own
 * NATS user, allowed to publish replication messages only on subjects that name it
 * (`ordo.repl.<cluster>.<store>.<node>.…`); the applier trusts the subject's node, never the
 * payload's. This module renders that server configuration (the harness starts nats-server
 * with it; `docs/cluster.md` shows it); it opens nothing.
 */
import { leaseBucket } from './leaderElection.ts';
import { membersBucket } from './membership.ts';
import { replNames } from './replicator.ts';
import { schemaBucket } from './schemaGate.ts';
import { validateName } from './config.ts';
import { ClusterConfigError } from './errors.ts';

/** Publish/subscribe permissions of one NATS user (nats-server `permissions` block). */
export interface NatsUserPermissions {
  readonly publish: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
}

/**
 * What node `node` of `cluster` needs, and nothing that lets it act as another node:
 * - its own replication subjects of every store: `ordo.repl.<cluster>.*.<node>.>`;
 * - snapshot requests and replies (`ordo.snap.<cluster>.>`, `_INBOX.>`), the jobs notifier
 *   (`ordo.jobs.<cluster>.>`);
 * - the JetStream API (`$JS.API.>`: streams, consumers, KV, object store) — except deleting,
 *   purging or deleting messages of a replication stream, and restoring any stream (a restored
 *   stream could carry messages on another node's subject);
 * - its own key of the members bucket, the lease and schema buckets, the snapshot object store.
 *
 * Gotchas: a node may still administer the streams (create, update limits): a stolen node
 * credential can write *as that node* and disturb the streams, never write as another node.
 * Leases and the schema record are not per-node (any node may become leader).
 *
 * @example
 * import { nodePermissions } from 'ordo/cluster';
 *
 * console.log(nodePermissions('prod', 'node-a', ['main']).publish.allow[0]); // 'ordo.repl.prod.*.node-a.>'
 */
export function nodePermissions(cluster: string, node: string, stores: readonly string[]): NatsUserPermissions {
  validateName('cluster', cluster);
  validateName('node', node);
  for (const s of stores) validateName('store', s);
  const deny: string[] = ['$JS.API.STREAM.RESTORE.>'];
  for (const s of stores) {
    const stream = replNames(cluster, s).stream;
    deny.push(`$JS.API.STREAM.DELETE.${stream}`, `$JS.API.STREAM.PURGE.${stream}`, `$JS.API.STREAM.MSG.DELETE.${stream}`);
  }
  return {
    publish: {
      allow: [
        `ordo.repl.${cluster}.*.${node}.>`,
        `ordo.fair.${cluster}.*.${node}`,
        `ordo.snap.${cluster}.>`,
        `ordo.jobs.${cluster}.>`,
        '_INBOX.>',
        '$JS.API.>',
        `$KV.${membersBucket(cluster)}.${node}`,
        `$KV.${leaseBucket(cluster)}.>`,
        `$KV.${schemaBucket(cluster)}.>`,
        `$O.ordo_snap_${cluster}.>`,
      ],
      deny,
    },
    subscribe: { allow: ['_INBOX.>', `ordo.snap.${cluster}.>`, `ordo.jobs.${cluster}.>`, `ordo.fair.${cluster}.>`] },
  };
}

/** A node's NATS user: a password, or an nkey public key (`U…`). */
export type NodeUser = { readonly node: string; readonly password: string } | { readonly node: string; readonly nkey: string };

/** Another (non-node) user of the same account, with the permissions given (an application client). */
export interface OtherUser {
  readonly user: string;
  readonly password: string;
  readonly permissions: NatsUserPermissions;
}

const q = (s: string): string => JSON.stringify(s);
const list = (xs: readonly string[]): string => `[${xs.map(q).join(', ')}]`;

/**
 * The nats-server configuration block for a cluster's account: JetStream on, one user per node
 * with {@link nodePermissions} (named after the node, so the user *is* the node), plus `others`.
 * Append it to a server config (`accounts { … }`).
 *
 * @example
 * import { natsAccountConf } from 'ordo/cluster';
 *
 * console.log(natsAccountConf({ cluster: 'prod', stores: ['main'], nodes: [{ node: 'a', password: 'pa' }] })); // an `accounts { … }` block for nats-server.conf
 */
export function natsAccountConf(o: { cluster: string; stores: readonly string[]; nodes: readonly NodeUser[]; others?: readonly OtherUser[]; account?: string }): string {
  const account = o.account ?? 'ORDO';
  if (!/^[A-Za-z0-9_-]+$/.test(account)) throw new ClusterConfigError('account must match [A-Za-z0-9_-]+', { value: account });
  const perm = (p: NatsUserPermissions): string =>
    `permissions: { publish: { allow: ${list(p.publish.allow)}${p.publish.deny.length > 0 ? `, deny: ${list(p.publish.deny)}` : ''} }, subscribe: { allow: ${list(p.subscribe.allow)} } }`;
  const users = o.nodes.map((n) => {
    const who = 'nkey' in n ? `nkey: ${q(n.nkey)}` : `user: ${q(n.node)}, password: ${q(n.password)}`;
    return `      { ${who}, ${perm(nodePermissions(o.cluster, n.node, o.stores))} }`;
  });
  for (const u of o.others ?? []) users.push(`      { user: ${q(u.user)}, password: ${q(u.password)}, ${perm(u.permissions)} }`);
  return [`accounts {`, `  ${account}: {`, `    jetstream: enabled`, `    users: [`, users.join(',\n'), `    ]`, `  }`, `}`].join('\n');
}
