import { JS_API_CODES, TransportError, type JsPublishOptions, type PubAckInfo, type TransportStreamConfig, type TransportStreamInfo } from '../env/transport.ts';

/** A message as the simulated JetStream stores it. */
export interface SimStoredMsg {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: ReadonlyMap<string, string>;
  /** Server time when stored (virtual ms). */
  readonly time: number;
}

/** Extra stream settings KV buckets use (not part of the public seam's config). */
export interface SimStreamExtras {
  /** `max_msgs_per_subject` (a KV bucket's history); 0: unlimited. */
  maxMsgsPerSubject?: number;
  /** Messages may carry `Nats-Rollup: sub` (KV purge). */
  allowRollup?: boolean;
}

/** True when `subject` matches `pattern` (NATS wildcards: `*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  if (pattern === subject) return true;
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== '*' && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

const api = (msg: string, code: number, subject?: string): TransportError => new TransportError(msg, { kind: 'api', apiCode: code, ...(subject !== undefined ? { subject } : {}) });

/**
 * One JetStream stream of the simulated server, with nats-server 2.9's limits semantics:
 * sequences start at 1 and never repeat; `max_age` removes messages older than it with no
 * event (so a KV key expires silently); `max_msgs` and `max_msgs_per_subject` drop the oldest;
 * a `Nats-Msg-Id` seen within the duplicate window is acked as a duplicate of the first
 * (checked before any expectation, as the server does); `Nats-Expected-Last-Sequence` and
 * `Nats-Expected-Last-Subject-Sequence` refuse with 10071 "wrong last sequence: N".
 */
export class SimStream {
  config: Required<TransportStreamConfig>;
  readonly extras: SimStreamExtras;
  msgs: SimStoredMsg[] = [];
  lastSeq = 0;
  private readonly dedupe = new Map<string, { seq: number; time: number }>();
  /** Called with every stored message (consumers, watches). */
  readonly onStored = new Set<(m: SimStoredMsg) => void>();

  constructor(config: TransportStreamConfig, extras: SimStreamExtras = {}) {
    this.config = SimStream.fill(config);
    this.extras = extras;
  }

  static fill(c: TransportStreamConfig): Required<TransportStreamConfig> {
    return { name: c.name, subjects: [...c.subjects], maxMsgs: c.maxMsgs ?? -1, maxAgeMs: c.maxAgeMs ?? 0, duplicateWindowMs: c.duplicateWindowMs ?? 120_000, replicas: c.replicas ?? 1 };
  }

  /** Applies `max_age` at `now` (what the server's expiry timer would have removed by then). */
  expire(now: number): void {
    const age = this.config.maxAgeMs;
    if (age > 0) {
      let i = 0;
      while (i < this.msgs.length && this.msgs[i]!.time + age <= now) i++;
      if (i > 0) this.msgs.splice(0, i);
    }
    const win = this.config.duplicateWindowMs;
    for (const [id, d] of this.dedupe) if (d.time + win <= now) this.dedupe.delete(id);
  }

  info(now: number): TransportStreamInfo {
    this.expire(now);
    return {
      config: { ...this.config, subjects: [...this.config.subjects] },
      state: { firstSeq: this.msgs[0]?.seq ?? (this.lastSeq === 0 ? 0 : this.lastSeq + 1), lastSeq: this.lastSeq, messages: this.msgs.length },
    };
  }

  captures(subject: string): boolean {
    return this.config.subjects.some((p) => subjectMatches(p, subject));
  }

  lastOn(subject: string, now: number): SimStoredMsg | undefined {
    this.expire(now);
    for (let i = this.msgs.length - 1; i >= 0; i--) if (subjectMatches(subject, this.msgs[i]!.subject)) return this.msgs[i];
    return undefined;
  }

  /** Stores a publish, or refuses it / acks it as a duplicate. */
  store(subject: string, data: Uint8Array, headers: ReadonlyMap<string, string>, options: JsPublishOptions, now: number): PubAckInfo {
    this.expire(now);
    const id = options.msgID;
    if (id !== undefined) {
      const d = this.dedupe.get(id);
      if (d) return { stream: this.config.name, seq: d.seq, duplicate: true };
    }
    const ex = options.expect;
    if (ex?.lastSequence !== undefined && ex.lastSequence !== this.lastSeq) throw api(`wrong last sequence: ${this.lastSeq}`, JS_API_CODES.wrongLastSequence, subject);
    if (ex?.lastSubjectSequence !== undefined) {
      // 2.9 has no Nats-Expected-Last-Subject-Sequence-Subject: the published subject is checked
      const last = this.lastOn(subject, now)?.seq ?? 0;
      if (last !== ex.lastSubjectSequence) throw api(`wrong last sequence: ${last}`, JS_API_CODES.wrongLastSequence, subject);
    }
    const m: SimStoredMsg = { seq: ++this.lastSeq, subject, data: data.slice(), headers: new Map(headers), time: now };
    if (id !== undefined) {
      const h = new Map(headers);
      h.set('Nats-Msg-Id', id);
      (m as { headers: ReadonlyMap<string, string> }).headers = h;
      this.dedupe.set(id, { seq: m.seq, time: now });
    }
    if (this.extras.allowRollup && headers.get('Nats-Rollup') === 'sub') this.msgs = this.msgs.filter((x) => x.subject !== subject);
    this.msgs.push(m);
    const perSubject = this.extras.maxMsgsPerSubject ?? 0;
    if (perSubject > 0) {
      const same = this.msgs.filter((x) => x.subject === subject);
      if (same.length > perSubject) {
        const drop = new Set(same.slice(0, same.length - perSubject));
        this.msgs = this.msgs.filter((x) => !drop.has(x));
      }
    }
    if (this.config.maxMsgs > 0 && this.msgs.length > this.config.maxMsgs) this.msgs.splice(0, this.msgs.length - this.config.maxMsgs);
    for (const l of [...this.onStored]) l(m);
    return { stream: this.config.name, seq: m.seq, duplicate: false };
  }

  /** Messages from `seq` on (those still held). */
  from(seq: number, now: number): SimStoredMsg[] {
    this.expire(now);
    return this.msgs.filter((m) => m.seq >= seq);
  }
}

/** The simulated JetStream: streams by name, subject capture, the stream API's errors. */
export class SimJetStream {
  readonly streams = new Map<string, SimStream>();

  add(config: TransportStreamConfig, extras: SimStreamExtras = {}): SimStream {
    const have = this.streams.get(config.name);
    if (have) {
      const same = JSON.stringify(have.config) === JSON.stringify(SimStream.fill(config));
      if (!same) throw api('stream name already in use with a different configuration', JS_API_CODES.streamNameInUse, config.name);
      return have;
    }
    for (const s of this.streams.values()) {
      for (const p of config.subjects) if (s.config.subjects.some((q) => subjectMatches(q, p) || subjectMatches(p, q))) throw api('subjects overlap with an existing stream', 10065, config.name);
    }
    if ((config.replicas ?? 1) > 1) throw api('replicas > 1 not supported in non-clustered mode', JS_API_CODES.replicasNotSupported, config.name);
    const s = new SimStream(config, extras);
    this.streams.set(config.name, s);
    return s;
  }

  get(name: string): SimStream {
    const s = this.streams.get(name);
    if (!s) throw api('stream not found', JS_API_CODES.streamNotFound, name);
    return s;
  }

  update(name: string, patch: Partial<Omit<TransportStreamConfig, 'name'>>): SimStream {
    const s = this.get(name);
    if (patch.replicas !== undefined && patch.replicas > 1) throw api('replicas > 1 not supported in non-clustered mode', JS_API_CODES.replicasNotSupported, name);
    s.config = SimStream.fill({ ...s.config, ...patch, name });
    return s;
  }

  /** The stream capturing `subject`, if any. */
  capturing(subject: string): SimStream | undefined {
    for (const s of this.streams.values()) if (s.captures(subject)) return s;
    return undefined;
  }
}
