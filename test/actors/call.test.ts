import { describe, expect, it } from 'vitest';
import { setup, type AnyStateMachine } from 'xstate';
import { BadArgumentError, CalleeExitError, CallTimeoutError, NoProcError, reply, type Pid, type ReplyTo } from '../../src/index.ts';
import { crash, fixture } from '../support/otp.ts';
import { plain, slowReplier, worker } from '../support/machines.ts';

async function spawnOk(f: ReturnType<typeof fixture>, name?: string, m: AnyStateMachine = worker): Promise<Pid> {
  const r = await f.kernel.spawn(m, { name });
  if (r.status !== 'ok') throw new Error('spawn');
  return r.pid;
}

describe('call', () => {
  it('returns the reply, by pid or by name', async () => {
    const f = fixture();
    const p = await spawnOk(f, 'w');
    expect(await f.kernel.call(p, { type: 'ping' })).toEqual({ ok: true, value: 'pong' });
    expect(await f.kernel.call('w', { type: 'ping' })).toEqual({ ok: true, value: 'pong' });
  });

  it('times out after 5000 virtual ms by default (not before) with CallTimeoutError; a late reply is discarded', async () => {
    const f = fixture();
    const p = await spawnOk(f, undefined, plain);
    let outcome: unknown;
    void f.kernel.call(p, { type: 'unanswered' }).then((r) => (outcome = r));
    await f.env.clock.advance(4999);
    expect(outcome).toBeUndefined();
    await f.env.clock.advance(1);
    expect(outcome).toMatchObject({ ok: false });
    const e = (outcome as { error: CallTimeoutError }).error;
    expect(e).toBeInstanceOf(CallTimeoutError);
    expect(e).toMatchObject({ code: 'ORDO_CALL_TIMEOUT', timeoutMs: 5000, target: p, request: { type: 'unanswered' } });
    expect(f.kernel.isAlive(p)).toBe(true);
  });

  it('a reply that arrives after the timeout is discarded; the next call gets its own reply (OTP ≥ 24)', async () => {
    const f = fixture();
    const r = await f.kernel.spawn(slowReplier, { input: { delayMs: 100 } });
    if (r.status !== 'ok') throw new Error('spawn');
    const late = f.kernel.call(r.pid, { type: 'slowPing' }, { timeoutMs: 50 });
    await f.env.clock.advance(50);
    expect((await late).ok).toBe(false);
    await f.env.clock.advance(50); // the late reply happens here
    expect(await f.kernel.call(r.pid, { type: 'ping' })).toEqual({ ok: true, value: 'pong' });
    const onTime = f.kernel.call(r.pid, { type: 'slowPing' }, { timeoutMs: 500 });
    await f.env.clock.advance(100);
    expect(await onTime).toEqual({ ok: true, value: 'late pong' });
  });

  it('honours a custom timeout', async () => {
    const f = fixture();
    const p = await spawnOk(f, undefined, plain);
    const call = f.kernel.call(p, { type: 'unanswered' }, { timeoutMs: 10 });
    await f.env.clock.advance(10);
    expect((await call).ok).toBe(false);
  });

  it('a dead pid or an unknown name → NoProcError, never a rejection', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    f.kernel.exit(p, 'kill');
    const r1 = await f.kernel.call(p, { type: 'ping' });
    expect((r1 as { error: NoProcError }).error).toBeInstanceOf(NoProcError);
    expect((r1 as { error: NoProcError }).error).toMatchObject({ code: 'ORDO_NOPROC', target: p });
    const r2 = await f.kernel.call('nobody', { type: 'ping' });
    expect((r2 as { error: NoProcError }).error).toMatchObject({ code: 'ORDO_NOPROC', target: 'nobody' });
  });

  it('the callee exiting mid-call → CalleeExitError with its reason', async () => {
    const f = fixture();
    const p = await spawnOk(f, undefined, worker);
    const call = f.kernel.call(p, { type: 'no_handler' }, { timeoutMs: Infinity });
    crash(f.kernel, p);
    const r = await call;
    expect(r.ok).toBe(false);
    const e = (r as { error: CalleeExitError }).error;
    expect(e).toBeInstanceOf(CalleeExitError);
    expect(e.code).toBe('ORDO_CALLEE_EXIT');
    expect((e.reason as Error).message).toBe('died');
    expect(f.env.clock.pending()).toBe(0); // no leftover timer
  });

  it('a callee that crashes while it handles the request (before any reply) → CalleeExitError with its reason; no timer is left', async () => {
    const f = fixture();
    const crashes = setup({ types: { events: {} as { type: 'boom'; replyTo?: ReplyTo } } }).createMachine({
      initial: 'up',
      states: { up: { tags: ['ready'], on: { boom: { actions: () => { throw new Error('boom in handler'); } } } } },
    });
    const p = await spawnOk(f, undefined, crashes);
    const r = await f.kernel.call(p, { type: 'boom' });
    expect(r.ok).toBe(false);
    const e = (r as { error: CalleeExitError }).error;
    expect(e).toBeInstanceOf(CalleeExitError);
    expect(e).toMatchObject({ code: 'ORDO_CALLEE_EXIT', target: p, request: { type: 'boom' } });
    expect((e.reason as Error).message).toBe('boom in handler');
    expect(f.kernel.isAlive(p)).toBe(false);
    expect(f.env.clock.pending()).toBe(0);
  });

  it('a reply given while the request is handled settles the call with the first reply only; a reply then a crash is still the reply', async () => {
    const f = fixture();
    const m = setup({ types: { events: {} as { type: 'twice'; replyTo?: ReplyTo } | { type: 'thenCrash'; replyTo?: ReplyTo } } }).createMachine({
      initial: 'up',
      states: {
        up: {
          tags: ['ready'],
          on: {
            twice: { actions: ({ event }) => { reply(event.replyTo, 1); reply(event.replyTo, 2); } },
            thenCrash: { actions: ({ event }) => { reply(event.replyTo, 'answered'); throw new Error('after the reply'); } },
          },
        },
      },
    });
    const p = await spawnOk(f, undefined, m);
    expect(await f.kernel.call(p, { type: 'twice' })).toEqual({ ok: true, value: 1 });
    expect(f.env.clock.pending()).toBe(0);
    expect(await f.kernel.call(p, { type: 'thenCrash' })).toEqual({ ok: true, value: 'answered' });
    expect(f.kernel.isAlive(p)).toBe(false);
  });

  it('a reply address kept past the delivery is answered later, within its timeout, once', async () => {
    const f = fixture();
    let kept: ReplyTo | undefined;
    const m = setup({ types: { events: {} as { type: 'later'; replyTo?: ReplyTo } } }).createMachine({
      initial: 'up',
      states: { up: { tags: ['ready'], on: { later: { actions: ({ event }) => { kept = event.replyTo; } } } } },
    });
    const p = await spawnOk(f, undefined, m);
    let outcome: unknown;
    void f.kernel.call(p, { type: 'later' }, { timeoutMs: 100 }).then((r) => (outcome = r));
    expect(f.env.clock.pending()).toBe(1); // the open call is timed
    await f.env.clock.advance(99);
    reply(kept, 'late but in time');
    reply(kept, 'again');
    await f.env.clock.advance(0);
    expect(outcome).toEqual({ ok: true, value: 'late but in time' });
    expect(f.env.clock.pending()).toBe(0);
  });

  it('a bad request (not an object with a string type) → BadArgumentError carrying the value; the callee is untouched', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    for (const bad of [null, 'ping', 42, { foo: 1 }, { type: 5 }]) {
      const r = await f.kernel.call(p, bad as never);
      expect(r.ok).toBe(false);
      const e = (r as { error: BadArgumentError }).error;
      expect(e).toBeInstanceOf(BadArgumentError);
      expect(e).toMatchObject({ code: 'ORDO_BAD_ARGUMENT', argument: 'request', value: bad });
    }
    expect(f.kernel.isAlive(p)).toBe(true);
  });
});

describe('cast and send', () => {
  it('cast always succeeds, even to a dead pid or an unknown name; it is delivered to live ones', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    f.kernel.cast(p, { type: 'inc' });
    f.kernel.cast(p, { type: 'inc' });
    expect(await f.kernel.call(p, { type: 'get' })).toEqual({ ok: true, value: 2 });
    f.kernel.exit(p, 'kill');
    expect(() => f.kernel.cast(p, { type: 'inc' })).not.toThrow();
    expect(() => f.kernel.cast('nobody', { type: 'inc' })).not.toThrow();
    expect(() => f.kernel.send(p, { type: 'inc' })).not.toThrow();
  });

  it('a message that is not an event is dropped and logged: the sender does not throw, the machine does not crash', async () => {
    const f = fixture();
    const p = await spawnOk(f);
    const bad: unknown[] = ['hello', 42, null, undefined, { foo: 1 }, { type: 5 }];
    for (const m of bad) {
      expect(() => f.kernel.cast(p, m)).not.toThrow();
      expect(() => f.kernel.send(p, m)).not.toThrow();
    }
    await f.settle();
    expect(f.kernel.isAlive(p)).toBe(true);
    expect(await f.kernel.call(p, { type: 'ping' })).toEqual({ ok: true, value: 'pong' });
    const dropped = f.env.records.filter((r) => r['msg'] === 'dropped a message that is not an event');
    expect(dropped).toHaveLength(bad.length * 2);
    expect(dropped[0]).toMatchObject({ pid: String(p), message: 'hello' });
    expect(f.reports('crash_report')).toEqual([]);
  });
});
