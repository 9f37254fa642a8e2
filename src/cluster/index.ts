/**
 * `ordo/cluster`: NATS connection, discovery/membership child, leader election child and
 * store replication over JetStream. Explicit named exports only.
 */
export type { NatsConfig, NatsTlsConfig, NatsReconnectConfig, DiscoveryTiming } from './config.ts';
export { CLUSTER_DEFAULTS } from './config.ts';
export type { ClusterConnection, NatsRuntimeEvent } from './connection.ts';
export { connectCluster } from './connection.ts';
export type { ClusterErrorCode, ClusterErrorDetails, CommitSettlement } from './errors.ts';
export {
  ClusterError,
  NatsUnreachableError,
  NatsAuthError,
  NatsTlsError,
  NatsNoJetStreamError,
  NatsFeatureError,
  NatsNoConnectorError,
  ClusterConfigError,
  ReplMalformedError,
  ReplNewerSchemaError,
  ReplConflictError,
  ReplApplyError,
  ReplUnavailableError,
  ReplSnapshotError,
  ReplMigrationError,
  JetStreamUnavailableError,
  JetStreamReplicasError,
  ReplIndeterminateError,
} from './errors.ts';
export type { ReplicasSetting } from './replicas.ts';
export { resolveReplicas } from './replicas.ts';
export type { ServerFeature } from './serverFeatures.ts';
export { serverHas } from './serverFeatures.ts';
export { resolveNodeName, newIncarnation } from './nodeIdentity.ts';
export type { Membership, MemberInfo, MembershipEvents, MembershipHealth, NodeDownReason } from './membership.ts';
export type { DiscoveryConfig, DiscoveryInput, ClusterService } from './discovery.ts';
export { discoveryMachine } from './discovery.ts';
export type { Leadership, LeaderTerm, LeaderEvents, LeaseTiming } from './leaderElection.ts';
export type { ElectionConfig, ElectionInput } from './election.ts';
export { electionMachine, leaseTiming } from './election.ts';
// the batch, op and replicator types are the store's: import them from `ordo/store`
export type { ReplicatedStore, StreamPosition } from './replicatedStore.ts';
export type { ReplicationHealth, ReplicatorOptions } from './replicator.ts';
export type { NatsUserPermissions, NodeUser, OtherUser } from './natsPermissions.ts';
export { nodePermissions, natsAccountConf } from './natsPermissions.ts';
export type { ReplicationConfig, ReplicationInput, ReplicationService } from './replication.ts';
export { replicationMachine } from './replication.ts';
export type { SchemaRecord, MigrationGateOptions } from './schemaGate.ts';
export { coordinateMigration } from './schemaGate.ts';
