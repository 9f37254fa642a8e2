import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createActor, createMachine, type AnyStateMachine } from 'xstate';
import { takesStop } from '../../src/actors/machineProcess.ts';
import { createKernel, createTestEnv } from '../../src/index.ts';

/**
 * The stop protocol asks every machine whether it takes `ordo.stop` (xstate's
 * `snapshot.can`); `takesStop` reads the answer off the state nodes once per top-level state
 * where nothing but the machine decides it. The model is xstate's own `can`: for any machine
 * and any state it is in, both must agree — also asked again (the cached answer) and after
 * the context changed (a guard decides then).
 */

type Handler = 'none' | 'target' | 'actionOnly' | 'empty' | 'guardPass' | 'guardFail' | 'guardCtx' | 'wildcard' | 'partialWildcard' | 'guardThenTarget';

const handlers: readonly Handler[] = ['none', 'target', 'actionOnly', 'empty', 'guardPass', 'guardFail', 'guardCtx', 'wildcard', 'partialWildcard', 'guardThenTarget'];

/** The `on` entries one handler kind gives a node (targets by key, so they resolve at any level). */
function on(h: Handler, done: string): Record<string, unknown> {
  const noop = (): void => undefined;
  switch (h) {
    case 'none':
      return {};
    case 'target':
      return { 'ordo.stop': { target: done } };
    case 'actionOnly':
      return { 'ordo.stop': { actions: noop } };
    case 'empty':
      return { 'ordo.stop': {} };
    case 'guardPass':
      return { 'ordo.stop': { guard: () => true, target: done } };
    case 'guardFail':
      return { 'ordo.stop': { guard: () => false, target: done } };
    case 'guardCtx':
      return { 'ordo.stop': { guard: ({ context }: { context: { open: boolean } }) => context.open, target: done } };
    case 'wildcard':
      return { '*': { target: done } };
    case 'partialWildcard':
      return { 'ordo.*': { actions: noop } };
    case 'guardThenTarget':
      return { 'ordo.stop': [{ guard: () => false, target: done }, { target: done }] };
  }
}

interface Shape {
  readonly root: Handler;
  /** Top-level states: their handler, and whether they nest a compound state (a non-string value). */
  readonly states: readonly { readonly h: Handler; readonly nested: Handler | undefined }[];
}

function build(shape: Shape): AnyStateMachine {
  const states: Record<string, unknown> = { done: { type: 'final' } };
  shape.states.forEach((st, i) => {
    const next = `s${(i + 1) % shape.states.length}`;
    const base = { on: { ...on(st.h, '#m.done'), go: { target: `#m.${next}` }, flip: { actions: 'flip' } } };
    states[`s${i}`] = st.nested === undefined ? base : { ...base, initial: 'inner', states: { inner: { on: on(st.nested, '#m.done') } } };
  });
  return createMachine(
    { id: 'm', context: { open: false }, initial: 's0', on: { ...on(shape.root, '#m.done') }, states } as never,
    { actions: { flip: (({ context }: { context: { open: boolean } }) => (context.open = !context.open)) as never } },
  );
}

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  root: fc.constantFrom(...handlers),
  states: fc.array(fc.record({ h: fc.constantFrom(...handlers), nested: fc.option(fc.constantFrom(...handlers), { nil: undefined }) }), { minLength: 1, maxLength: 4 }),
});

describe('takesStop: whether a machine takes ordo.stop, as xstate’s can() says', () => {
  it('agrees with snapshot.can in every state of random machines, asked again and after the context changed', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.constantFrom('go', 'flip'), { maxLength: 8 }), (shape, moves) => {
        const actor = createActor(build(shape)).start();
        const check = (): void => {
          const s = actor.getSnapshot() as never as Parameters<typeof takesStop>[0] & { can(e: { type: string }): boolean };
          const expected = s.can({ type: 'ordo.stop' });
          expect(takesStop(s)).toBe(expected);
          expect(takesStop(s)).toBe(expected); // the cached answer
        };
        check();
        for (const m of moves) {
          if (actor.getSnapshot().status !== 'active') break;
          actor.send({ type: m });
          check();
        }
        actor.stop();
      }),
      { numRuns: 300 },
    );
  });

  it('a machine that takes ordo.stop from a root transition stops through it; one whose state has an empty handler is stopped at once', async () => {
    const kernel = createKernel(createTestEnv());
    const log: string[] = [];
    const viaRoot = createMachine({
      on: { 'ordo.stop': { target: '.done', actions: () => log.push('root handled it') } },
      initial: 'up',
      states: { up: { tags: ['ready'] }, done: { type: 'final' } },
    });
    const empty = createMachine({ initial: 'up', states: { up: { tags: ['ready'], on: { 'ordo.stop': {} } }, done: { type: 'final' } }, on: { 'ordo.stop': { target: '.done', actions: () => log.push('never') } } });
    const a = await kernel.spawn(viaRoot);
    const b = await kernel.spawn(empty);
    if (a.status !== 'ok' || b.status !== 'ok') throw new Error('spawn');
    kernel.exit(a.pid, 'shutdown');
    kernel.exit(b.pid, 'shutdown');
    expect(log).toEqual(['root handled it']);
    expect(kernel.isAlive(a.pid)).toBe(false);
    expect(kernel.isAlive(b.pid)).toBe(false);
  });
});
