/**
 * Core benchmarks (issue 2): call round trip and spawn+stop against raw xstate, restart
 * latency, 10,000 dynamic children, boot+stop of a 4-child ordered tree.
 * Run: `npm run bench -- core` or `node --import tsx bench/core.ts`.
 */
import { createActor, setup, assign } from 'xstate';
import { pino } from 'pino';
import { createKernel, createRealEnv, ordoBuild, reply, startApplication, startDynamicChild, startSupervisor, stopProcess, whichChildren, type Env, type Pid } from './_ordo.ts';
import { type BenchResult, isMain, load1, median, now, percentile, printResults, repeat } from './lib.ts';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
/** The command that reproduces these figures (with the Ordo build they measured). */
const COMMAND = `${ordoBuild === 'dist' ? 'npm run build && ORDO_BENCH_DIST=1 ' : ''}BENCH_RUNS=${RUNS} node --import tsx bench/core.ts`;

const pingMachine = setup({
  types: { context: {} as { n: number }, events: {} as { type: 'ping'; replyTo?: never } | { type: 'ordo.stop'; reason?: unknown } },
}).createMachine({
  context: { n: 0 },
  initial: 'up',
  states: {
    up: {
      tags: ['ready'],
      on: {
        ping: { actions: [assign({ n: ({ context }) => context.n + 1 }), ({ event }) => reply(event.replyTo, 'pong')] },
        'ordo.stop': 'done',
      },
    },
    done: { type: 'final' },
  },
});

function quietEnv(): Env {
  return createRealEnv({ logger: pino({ level: 'silent' }) });
}

/** Raw xstate: send an event and wait for the resulting snapshot through subscribe. */
async function rawRoundTrip(n: number): Promise<number> {
  const actor = createActor(pingMachine).start();
  let resolve!: () => void;
  actor.subscribe(() => resolve());
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const p = new Promise<void>((r) => (resolve = r));
    actor.send({ type: 'ping' });
    await p;
  }
  const dt = now() - t0;
  actor.stop();
  return (dt * 1e6) / n;
}

async function ordoCall(n: number): Promise<number> {
  const kernel = createKernel(quietEnv());
  const r = await kernel.spawn(pingMachine);
  if (r.status !== 'ok') throw new Error('spawn failed');
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const res = await kernel.call(r.pid, { type: 'ping' });
    if (!res.ok) throw new Error('call failed');
  }
  const dt = now() - t0;
  kernel.exit(r.pid, 'kill');
  return (dt * 1e6) / n;
}

async function rawSpawnStop(n: number): Promise<number> {
  const t0 = now();
  for (let i = 0; i < n; i++) createActor(pingMachine).start().stop();
  return ((now() - t0) * 1e6) / n;
}

async function ordoSpawnStop(n: number): Promise<number> {
  const kernel = createKernel(quietEnv());
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const r = await kernel.spawn(pingMachine);
    if (r.status !== 'ok') throw new Error('spawn failed');
    kernel.exit(r.pid, 'kill');
  }
  return ((now() - t0) * 1e6) / n;
}

/** Crash → ready again, through a one_for_one supervisor. Returns per-restart µs samples. */
async function restartLatency(n: number): Promise<number[]> {
  const env = quietEnv();
  const kernel = createKernel(env);
  const crashy = setup({ actions: { boom: () => { throw new Error('boom'); } } }).createMachine({
    initial: 'up',
    states: { up: { tags: ['ready'], on: { crash: { actions: 'boom' } } } },
  });
  const sup = await startSupervisor(kernel, { strategy: 'one_for_one', maxRestarts: 1_000_000, periodMs: 1000, children: [{ id: 'c', start: { machine: crashy } }] });
  if (sup.status !== 'ok') throw new Error('sup failed');
  const samples: number[] = [];
  let pid: Pid | undefined;
  let onReady: (() => void) | undefined;
  kernel.onLifecycle((e) => {
    if (e.type === 'ready') {
      pid = e.pid;
      onReady?.();
    }
  });
  const first = await whichChildren(kernel, sup.pid);
  pid = first[0]!.pid as Pid;
  for (let i = 0; i < n; i++) {
    const ready = new Promise<void>((r) => (onReady = r));
    const t0 = now();
    kernel.send(pid, { type: 'crash' });
    await ready;
    samples.push((now() - t0) * 1000);
  }
  await stopProcess(kernel, sup.pid);
  return samples;
}

async function dynamicChildren(n: number): Promise<number> {
  const kernel = createKernel(quietEnv());
  const t0 = now();
  const sup = await startSupervisor(kernel, { strategy: 'simple_one_for_one', maxRestarts: 10, periodMs: 1000, children: [{ id: 'w', restart: 'temporary', start: { machine: pingMachine } }] });
  if (sup.status !== 'ok') throw new Error('sup failed');
  for (let i = 0; i < n; i++) {
    const r = await startDynamicChild(kernel, sup.pid, undefined);
    if (!r.ok) throw new Error('startChild failed');
  }
  await stopProcess(kernel, sup.pid);
  if (kernel.processCount !== 0) throw new Error(`leaked ${kernel.processCount} processes`);
  return now() - t0;
}

async function bootStop(): Promise<number> {
  const env = quietEnv();
  const t0 = now();
  const app = startApplication({
    name: 'bench',
    env,
    handleSignals: false,
    tree: { strategy: 'rest_for_one', maxRestarts: 3, periodMs: 5000, children: ['config', 'store', 'cache', 'http'].map((id) => ({ id, start: { machine: pingMachine } })) },
  });
  await app.ready;
  const exit = await app.stop();
  if (exit.code !== 0) throw new Error('stop failed');
  return now() - t0;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  // Raw and Ordo runs alternate, and each figure is the median of per-pair ratios, so both
  // sides see the same machine state (JIT warm-up, GC, a noisy neighbour).
  const paired = async (name: string, baseline: string, rawFn: () => Promise<number>, ordoFn: () => Promise<number>): Promise<BenchResult> => {
    await rawFn();
    await ordoFn();
    const raws: number[] = [];
    const ordos: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // which side goes first alternates too (raw, Ordo, then Ordo, raw, …)
      let r: number;
      let o: number;
      if (i % 2 === 0) {
        r = await rawFn();
        o = await ordoFn();
      } else {
        o = await ordoFn();
        r = await rawFn();
      }
      raws.push(r);
      ordos.push(o);
      ratios.push(o / r);
    }
    const ratio = median(ratios);
    return { name, value: median(ordos), unit: 'ns/op', baseline: { name: baseline, value: median(raws) }, ratio, target: '≤ 1.3× raw xstate', met: ratio <= 1.3, runs: ratios, warmups: 1, loadavg: load1(), command: COMMAND };
  };
  results.push(await paired('call round trip', 'xstate send+subscribe', () => rawRoundTrip(20_000), () => ordoCall(20_000)));
  results.push(await paired('spawn+stop', 'createActor().start().stop()', () => rawSpawnStop(5_000), () => ordoSpawnStop(5_000)));

  const lat: number[] = [];
  const p50s: number[] = [];
  await restartLatency(200); // warm-up, dropped (stated as warmups: 1)
  for (let i = 0; i < RUNS; i++) {
    const s = await restartLatency(2000);
    p50s.push(median(s));
    lat.push(...s);
  }
  results.push({ name: 'restart latency p50 (crash → ready)', value: median(p50s), unit: 'µs', target: 'p50 ≤ 100 µs', met: median(p50s) <= 100, runs: p50s, warmups: 1, loadavg: load1(), command: COMMAND });
  // the p99 of all runs' samples pooled (a percentile of samples, never a sum of percentiles)
  results.push({ name: 'restart latency p99 (all runs pooled)', value: percentile(lat, 99), unit: 'µs', warmups: 1, loadavg: load1(), command: COMMAND });

  const dyn = await repeat(RUNS, () => dynamicChildren(10_000));
  results.push({ name: '10,000 dynamic children started and stopped', value: median(dyn), unit: 'ms', target: '≤ 1000 ms', met: median(dyn) <= 1000, runs: dyn, warmups: 1, loadavg: load1(), command: COMMAND });

  const boots: number[] = [];
  for (let i = 0; i < 20 * RUNS; i++) boots.push(await bootStop());
  // the first 5 boots warm the JIT and are dropped: stated, not silent
  results.push({ name: 'boot+stop of a 4-child ordered tree', value: median(boots.slice(5)), unit: 'ms', target: '≤ 5 ms', met: median(boots.slice(5)) <= 5, runs: boots.slice(5), warmups: 5, loadavg: load1(), command: COMMAND });
  return results;
}

if (isMain(import.meta.url)) {
  printResults(`Core (Ordo from ${ordoBuild}/)`, await run());
}
