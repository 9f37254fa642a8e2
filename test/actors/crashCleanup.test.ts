import { describe, expect, it } from 'vitest';
import { fromCallback, fromPromise, setup } from 'xstate';
import type { Env } from '../../src/index.ts';
import { fixture } from '../support/otp.ts';

/**
 * A crashed machine's invoked actors are stopped with it (their cleanup runs), as a process's
 * resources go when it dies. xstate v5 leaves an errored actor's children running ("orphaned
 * active actors", a TODO in its Actor._stopProcedure): before the kernel stopped them, a crash
 * left their timers armed — the chaos engine's "timers left after stop" on 25/200 seeds of
 * rest-for-one-service before its library child disarmed its own timers (6d0ba7e).
 */
const crashing = setup({
  types: { input: {} as { env: Env; log: string[] }, context: {} as { env: Env; log: string[] }, events: {} as { type: 'crash' } },
  actors: {
    ticker: fromCallback<{ type: 'crash' }, { env: Env; log: string[] }>(({ input }) => {
      let t: unknown;
      const arm = (): void => {
        t = input.env.clock.setTimeout(() => {
          arm();
          input.log.push('tick');
        }, 100);
      };
      arm();
      return () => {
        input.log.push('ticker disposed');
        input.env.clock.clearTimeout(t);
      };
    }),
    waiter: fromPromise<void, { env: Env; log: string[] }>(({ input, signal }) => new Promise<void>((resolve) => {
      const t = input.env.clock.setTimeout(() => resolve(), 60_000);
      signal.addEventListener('abort', () => {
        input.log.push('waiter aborted');
        input.env.clock.clearTimeout(t);
      });
    })),
  },
}).createMachine({
  context: ({ input }) => input,
  initial: 'up',
  states: {
    up: {
      tags: ['ready'],
      invoke: [
        { src: 'ticker', input: ({ context }) => context },
        { src: 'waiter', input: ({ context }) => context },
      ],
      on: {
        crash: {
          actions: () => {
            throw new Error('boom');
          },
        },
      },
    },
  },
});

describe('a crashed machine', () => {
  it('stops its invoked actors: their cleanup runs and no timer of theirs stays armed', async () => {
    const f = fixture();
    const log: string[] = [];
    const r = await f.kernel.spawn(crashing, { input: { env: f.env, log } });
    if (r.status !== 'ok') throw new Error('spawn');
    await f.env.clock.advance(250);
    expect(log.filter((l) => l === 'tick')).toHaveLength(2);
    const timersBefore = f.env.clock.pending();
    expect(timersBefore).toBe(2); // the ticker's and the waiter's (the start timeout is cleared at readiness)
    f.kernel.send(r.pid, { type: 'crash' });
    await f.settle();
    expect(f.kernel.isAlive(r.pid)).toBe(false);
    expect(f.exitOf(r.pid)).toBeInstanceOf(Error);
    expect(log).toContain('ticker disposed');
    expect(log).toContain('waiter aborted');
    expect(f.env.clock.pending()).toBe(0);
    await f.env.clock.advance(1000);
    expect(log.filter((l) => l === 'tick')).toHaveLength(2); // nothing ticks after the crash
  });
});
