import type { ClusterTransport, TransportObjectStore as ObjectStore } from '../env/transport.ts';

/** How long an unclaimed snapshot object lives in the snapshot bucket. */
const SNAPSHOT_TTL_MS = 10 * 60_000;

/**
 * Snapshots travel through a JetStream object store (chunked, flow-controlled), not in a
 * request's reply: a store of any size fits, whatever the server's `max_payload`. The serving
 * node uploads and replies with the object's name; the requester downloads and deletes it; the
 * bucket's TTL removes abandoned ones. @internal
 */
export class SnapshotTransfer {
  private bucket: Promise<ObjectStore> | undefined;
  private counter = 0;

  private readonly t: ClusterTransport;
  private readonly cluster: string;
  /** Prefix of object names (store, node, incarnation): unique per replicator. */
  private readonly prefix: string;
  /** Replicas of the bucket when this creates it (`OBJ_ordo_snap_<cluster>`; the replicator reconciles it). */
  private readonly replicas: number;
  constructor(
    t: ClusterTransport,
    cluster: string,
    prefix: string,
    replicas = 1,
  ) {
    this.t = t;
    this.cluster = cluster;
    this.prefix = prefix;
    this.replicas = replicas;
  }

  private async store(): Promise<ObjectStore> {
    this.bucket ??= this.t.objectStore(`ordo_snap_${this.cluster}`, { ttlMs: SNAPSHOT_TTL_MS, replicas: this.replicas });
    try {
      return await this.bucket;
    } catch (e) {
      this.bucket = undefined;
      throw e;
    }
  }

  /** Uploads `body` in chunks below half of `maxPayload`; returns the object's name. */
  async upload(body: Uint8Array, maxPayload: number): Promise<string> {
    const os = await this.store();
    const name = `${this.prefix}.${++this.counter}`;
    const maxChunk = Math.max(1024, Math.min(128 * 1024, Math.floor(maxPayload / 2)));
    await os.putBlob(name, body, { maxChunkSize: maxChunk });
    return name;
  }

  /** Downloads and deletes `name` (a failed delete is left to the TTL and reported to `onDeleteError`). */
  async download(name: string, onDeleteError: (e: unknown) => void): Promise<Uint8Array> {
    const os = await this.store();
    const blob = await os.getBlob(name);
    if (!blob) throw new Error(`snapshot object ${name} is missing`);
    await os.delete(name).catch(onDeleteError);
    return blob;
  }
}
