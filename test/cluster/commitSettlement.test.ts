import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TransportError, type PubAckInfo as PubAck } from '../../src/env/transport.ts';
import { PendingCommits, publishSettled, type PublishDeps } from '../../src/cluster/commitSettlement.ts';
import { LeaderSignal } from '../../src/cluster/streamLeader.ts';
import { createTestEnv } from '../../src/env/env.ts';

const ack = (seq: number, duplicate = false): PubAck => ({ stream: 'S', seq, duplicate });
const wrongLast = (n: number): TransportError => new TransportError(`wrong last sequence: ${n}`, { kind: 'api', apiCode: 10071 });
const timeout = (): TransportError => new TransportError('timeout', { kind: 'timeout' });

/** Deps on a fake clock: each sleep advances it; `answers` are what successive publishes do. */
function deps(answers: Array<() => PubAck | Error>, extra: Partial<PublishDeps> = {}): PublishDeps & { clock: { t: number }; sent: number } {
  const clock = { t: 0 };
  const d: PublishDeps & { clock: { t: number }; sent: number } = {
    clock,
    sent: 0,
    publish: async (): Promise<PubAck> => {
      const a = answers[Math.min(d.sent++, answers.length - 1)]!();
      if (a instanceof Error) throw a;
      return a;
    },
    now: () => clock.t,
    sleep: async (ms: number) => void (clock.t += ms),
    catchUpTo: async () => undefined,
    stopped: () => false,
    canSend: () => true,
    log: createTestEnv().logger,
    ...extra,
  };
  return d;
}

describe('commit settlement by msg id and stream order', () => {
  it('an ack settles committed; a duplicate ack after timeouts too (the first attempt had been stored)', async () => {
    const p = new PendingCommits();
    expect(await publishSettled(p, p.track('m', undefined), 1000, 5000, deps([() => ack(3)]))).toEqual({ kind: 'committed', seq: 3, duplicate: false });
    const d = deps([() => timeout(), () => timeout(), () => ack(4, true)]);
    expect(await publishSettled(p, p.track('m2', undefined), 1000, 5000, d)).toEqual({ kind: 'committed', seq: 4, duplicate: true });
  });

  it('every attempt refused before storing (no responders / API error) → refused at the deadline, never unknown', async () => {
    const p = new PendingCommits();
    const refused = new TransportError('JetStream system temporarily unavailable', { kind: 'api', apiCode: 10008 });
    const out = await publishSettled(p, p.track('m', { seq: 0, subject: undefined }), 300, 5000, deps([() => refused]));
    expect(out.kind).toBe('refused');
  });

  it('never connected until the deadline: refused with a typed TransportError (closed), not a plain Error', async () => {
    const p = new PendingCommits();
    const out = await publishSettled(p, p.track('m', undefined), 300, 5000, deps([() => ack(1)], { canSend: () => false }));
    expect(out.kind).toBe('refused');
    const error = (out as { error: unknown }).error;
    expect(error).toBeInstanceOf(TransportError);
    expect((error as TransportError).kind).toBe('closed');
  });

  it('a timeout then the deadline: keeps settling (not a failure) until settleBy, then unknown', async () => {
    const p = new PendingCommits();
    const d = deps([() => timeout()]);
    const out = await publishSettled(p, p.track('m', undefined), 300, 3000, d);
    expect(out.kind).toBe('unknown');
    expect(d.clock.t).toBeGreaterThanOrEqual(3000);
  });

  it('wrong last sequence on the first attempt is a conflict; after a timed-out attempt it is a conflict only if the stream order shows another message took the slot', async () => {
    const p = new PendingCommits();
    expect((await publishSettled(p, p.track('a', { seq: 5, subject: undefined }), 1000, 5000, deps([() => wrongLast(6)]))).kind).toBe('conflict');
    // attempt 1 timed out but was stored at 6; attempt 2 (table scope pre-check) says wrong last sequence
    const t = p.track('b', { seq: 5, subject: 's' });
    const d = deps([() => timeout(), () => wrongLast(6)], { catchUpTo: async () => p.observe(6, 's', 'b') });
    expect(await publishSettled(p, t, 1000, 5000, d)).toEqual({ kind: 'committed', seq: 6, duplicate: true });
  });

  it('a retry stuck on a dead leader is re-published (same msg id) as soon as the stream elects a new one', async () => {
    const p = new PendingCommits();
    const leader = new LeaderSignal();
    const msgIds: number[] = [];
    // attempt 1 times out; attempt 2 hangs (sent to a leader that just died: no answer until its
    // request timeout, which this fake never reaches); attempt 3 reaches the new leader
    let hung: (() => void) | undefined;
    const d = deps([], {
      publish: () => {
        const n = msgIds.push(msgIds.length + 1);
        if (n === 1) return Promise.reject(timeout());
        if (n === 2) {
          setTimeout(() => leader.fire(), 0);
          return new Promise<PubAck>((_, reject) => (hung = () => reject(timeout())));
        }
        return Promise.resolve(ack(9, true));
      },
      leaderElected: () => leader.next(),
    });
    expect(await publishSettled(p, p.track('m', undefined), 1000, 5000, d)).toEqual({ kind: 'committed', seq: 9, duplicate: true });
    expect(msgIds).toEqual([1, 2, 3]);
    hung?.(); // the abandoned attempt failing later changes nothing
    await new Promise((r) => setTimeout(r, 0));
  });

  it('elections one after another never keep a commit past settleBy (virtual clock): it ends unknown at the next one after it', async () => {
    const env = createTestEnv();
    const p = new PendingCommits();
    const leader = new LeaderSignal();
    // a flapping cluster: a leader is elected every 200 ms, and every attempt hangs until the
    // request timeout (1 s) — so each retry is overtaken by an election and never sleeps
    let flapping = true;
    const flap = (): void => {
      leader.fire();
      if (flapping) env.clock.setTimeout(flap, 200);
    };
    env.clock.setTimeout(flap, 200);
    let attempts = 0;
    const d = deps([], {
      publish: () => {
        attempts++;
        return new Promise<PubAck>((_, reject) => env.clock.setTimeout(() => reject(timeout()), 1000));
      },
      now: () => env.clock.now(),
      sleep: (ms: number) => new Promise<void>((r) => void env.clock.setTimeout(() => r(), ms)),
      leaderElected: () => leader.next(),
    });
    let out: Awaited<ReturnType<typeof publishSettled>> | undefined;
    let endedAt = -1;
    void publishSettled(p, p.track('m', undefined), 1000, 3000, d).then((o) => {
      out = o;
      endedAt = env.clock.now();
    });
    await env.clock.advance(10_000);
    flapping = false;
    expect(out?.kind).toBe('unknown');
    expect(endedAt).toBeGreaterThanOrEqual(3000);
    expect(endedAt).toBeLessThanOrEqual(3200);
    expect(attempts).toBeGreaterThan(5);
  });

  it('the retry back-off ends early when the stream elects a leader', async () => {
    const p = new PendingCommits();
    const leader = new LeaderSignal();
    let slept = 0;
    const d = deps([() => timeout(), () => ack(5)], {
      // a sleep that only a leader election ends (the fake clock never fires it)
      sleep: (ms: number) => {
        slept += ms;
        setTimeout(() => leader.fire(), 0);
        return new Promise<void>(() => undefined);
      },
      leaderElected: () => leader.next(),
    });
    expect(await publishSettled(p, p.track('m', undefined), 1000, 5000, d)).toEqual({ kind: 'committed', seq: 5, duplicate: false });
    expect(slept).toBeGreaterThan(0);
  });

  it('property: observe settles exactly by the stream — committed iff the msg id is in it before any other message on the expected slot', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ subject: fc.constantFrom('x', 'y'), mine: fc.boolean() }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.constantFrom('x', 'y'), { nil: undefined }),
        fc.boolean(),
        (msgs, expectSeq, subject, checked) => {
          const p = new PendingCommits();
          const t = p.track('me', checked ? { seq: expectSeq, subject } : undefined);
          let seq = expectSeq;
          let model: unknown;
          for (const m of msgs) {
            seq++;
            p.observe(seq, m.subject, m.mine ? 'me' : `other${seq}`);
            if (model === undefined) {
              if (m.mine) model = { committed: true, seq };
              else if (checked && (subject === undefined || subject === m.subject)) model = { committed: false };
            }
          }
          expect(t.outcome).toEqual(model);
        },
      ),
    );
  });
});
