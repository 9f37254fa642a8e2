/**
 * Do the replicas of an R3 lease bucket agree? (issue 14, "one leader per term"). Not a speed
 * figure: a count, on the real 3-server cluster (nats-server 2.9), of rounds after which the
 * three servers hold different entries for the lease key, for the two ways a lease can change
 * hands, rounds alternating between them:
 * - `ttl-create` (Ordo before this fix): the bucket has a 1 s TTL (`max_age`); a lease is
 *   written, then every server's client fires creates (expected last subject sequence 0) from
 *   60 ms before to 60 ms after the moment it expires — what followers did, campaigning at
 *   `seen + TTL + 5 ms`;
 * - `update` (now): no TTL; a lease is written, then every server's client fires
 *   revision-checked updates of it at the same instants — a follower's takeover of a lease
 *   unchanged for a TTL.
 * 150 ms after a round each server's own copy is read (a direct get over a connection to that
 * server is answered by its local replica) and compared. Also counted: rounds where more than
 * one write was acknowledged (two "winners": 2.9 checks an update's expected revision before
 * proposing it, so same-instant updates of one revision can all pass), and rounds where more
 * than one winner still found its own revision on a stream-leader read right after its ack
 * (the election's read-back). Every server started is killed.
 * Run: `node --import tsx bench/leaseReplicas.ts` (BENCH_ROUNDS per mode, default 15).
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { NatsCluster } from '../test/harness/natsCluster.ts';
import { isMain } from './lib.ts';

const ROUNDS = Math.max(1, Number(process.env['BENCH_ROUNDS'] ?? 15));
const TTL = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

type Mode = 'ttl-create' | 'update';
interface Tally {
  rounds: number;
  diverged: number;
  multipleWinners: number;
  /** Rounds where more than one winner still saw its own revision on a leader read right after its ack (Ordo's read-back). */
  multipleConfirmed: number;
  examples: string[];
}

/** Each server's own view of `key` (seq=value), via a connection to that server alone. */
async function views(conns: NatsConnection[], stream: string, subject: string): Promise<string[]> {
  const out: string[] = [];
  for (const nc of conns) {
    const m = await (await jetstreamManager(nc)).direct.getMessage(stream, { last_by_subj: subject }).catch(() => null);
    out.push(m ? `${m.seq}=${m.string()}` : 'none');
  }
  return out;
}

async function round(mode: Mode, r: number, kvs: KV[], conns: NatsConnection[], bucket: string, t: Tally): Promise<void> {
  const key = `k${r}`;
  const written = Date.now();
  const rev = await kvs[0]!.put(key, `r${r}-holder`);
  const acked: string[] = [];
  const confirmed: string[] = [];
  const jsms = await Promise.all(conns.map((nc) => jetstreamManager(nc)));
  const shots: Array<Promise<void>> = [];
  for (let dt = -60; dt <= 60; dt += 10) {
    for (const [i, kv] of kvs.entries()) {
      const who = `r${r}-s${i + 1}${dt >= 0 ? '+' : ''}${dt}`;
      shots.push(
        sleep(written + TTL + dt - Date.now())
          .then(() => (mode === 'ttl-create' ? kv.create(key, who) : kv.update(key, who, rev)))
          .then(async (mine) => {
            acked.push(who);
            // the election's read-back: the stream leader's copy (STREAM.MSG.GET), not a replica's
            const back = await jsms[i]!.streams.getMessage(`KV_${bucket}`, { last_by_subj: `$KV.${bucket}.${key}` }).catch(() => null);
            if (back?.seq === mine) confirmed.push(who);
          }, () => undefined),
      );
    }
  }
  await Promise.all(shots);
  await sleep(150);
  const v = await views(conns, `KV_${bucket}`, `$KV.${bucket}.${key}`);
  t.rounds++;
  if (acked.length > 1) t.multipleWinners++;
  if (confirmed.length > 1) t.multipleConfirmed++;
  if (new Set(v).size > 1) {
    t.diverged++;
    if (t.examples.length < 3) t.examples.push(`round ${r}: ${v.map((x, i) => `n${i + 1} ${x}`).join(' | ')} (acknowledged: ${acked.join(', ') || 'none'})`);
  }
}

/** Runs both modes, alternating rounds; returns the tallies. */
export async function leaseReplicas(rounds = ROUNDS): Promise<Record<Mode, Tally>> {
  const c = await NatsCluster.start();
  const conns: NatsConnection[] = [];
  try {
    const kvsOf: Record<Mode, KV[]> = { 'ttl-create': [], update: [] };
    for (const m of c.members) {
      const nc = await connect({ servers: [m.url] });
      conns.push(nc);
      kvsOf['ttl-create'].push(await new Kvm(jetstream(nc, { timeout: 2000 })).create('lease_ttl', { history: 1, ttl: TTL, replicas: 3 }));
      kvsOf.update.push(await new Kvm(jetstream(nc, { timeout: 2000 })).create('lease_upd', { history: 1, replicas: 3 }));
    }
    await c.waitStreamCurrent('KV_lease_ttl');
    await c.waitStreamCurrent('KV_lease_upd');
    const tally: Record<Mode, Tally> = { 'ttl-create': { rounds: 0, diverged: 0, multipleWinners: 0, multipleConfirmed: 0, examples: [] }, update: { rounds: 0, diverged: 0, multipleWinners: 0, multipleConfirmed: 0, examples: [] } };
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? (['ttl-create', 'update'] as const) : (['update', 'ttl-create'] as const)) {
        await round(mode, r, kvsOf[mode], conns, mode === 'ttl-create' ? 'lease_ttl' : 'lease_upd', tally[mode]);
      }
    }
    return tally;
  } finally {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await c.dispose();
  }
}

if (isMain(import.meta.url)) {
  const t = await leaseReplicas();
  for (const [mode, x] of Object.entries(t)) {
    console.log(`${mode}: replicas disagreed after ${x.diverged}/${x.rounds} rounds; more than one write acknowledged in ${x.multipleWinners}/${x.rounds}, and still confirmed by a leader read right after in ${x.multipleConfirmed}/${x.rounds}`);
    for (const e of x.examples) console.log(`  ${e}`);
  }
}
