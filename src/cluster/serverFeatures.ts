/**
 * What a nats-server version can do, so the cluster layer refuses at boot a feature the
 * server would silently ignore (nats-server 2.9 accepts a per-key TTL header and drops it).
 */

/** Server features Ordo may ask for, with the first version that has them. */
export const FEATURE_MIN_VERSION = {
  /** KV / stream per-message TTL (`Nats-TTL`, `allow_msg_ttl`). */
  perKeyTtl: '2.11.0',
  /** Delete markers when a key expires (`subject_delete_marker_ttl`) — the watch event 2.9 lacks. */
  deleteMarkers: '2.11.0',
  /** Consumers and KV watches with several subject filters. */
  multiFilter: '2.10.0',
  /** Stream compression and stream metadata. */
  compression: '2.10.0',
  /** Expected-last-sequence-per-subject on publish (conflict detection for replication). */
  expectedLastSubjectSeq: '2.3.0',
  /** An expected-last-subject-sequence checked against a wildcard subject (`Nats-Expected-Last-Subject-Sequence-Subject`): table-scope conflict detection with per-node subjects. */
  lastSubjectSequenceSubject: '2.11.0',
  /** Key-value buckets and direct get. */
  kv: '2.6.2',
} as const;

/** A feature name from {@link FEATURE_MIN_VERSION}. */
export type ServerFeature = keyof typeof FEATURE_MIN_VERSION;

/** `[major, minor, patch]` from `"2.9.10"` (suffixes such as `-beta` ignored); `undefined` if unparsable. */
export function parseVersion(v: string | undefined): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v ?? '');
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** `a >= b` for version strings; false when either is unparsable. */
export function versionAtLeast(a: string | undefined, b: string): boolean {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return false;
  for (let i = 0; i < 3; i++) {
    if (x[i]! !== y[i]!) return x[i]! > y[i]!;
  }
  return true;
}

/** Whether `version` supports `feature`. */
export function serverHas(version: string | undefined, feature: ServerFeature): boolean {
  return versionAtLeast(version, FEATURE_MIN_VERSION[feature]);
}

/** The features of {@link FEATURE_MIN_VERSION} that `version` lacks, among `wanted`. */
export function missingFeatures(version: string | undefined, wanted: readonly ServerFeature[]): ServerFeature[] {
  return wanted.filter((f) => !serverHas(version, f));
}
