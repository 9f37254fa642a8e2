import type { Env } from '../env/index.ts';
import type { LifecycleEvent } from '../actors/index.ts';
import { startApplication, type ApplicationHandle, type ApplicationHealth, type ChildHealth, type SupervisorSpec } from '../supervisor/index.ts';
import { renderTree } from './renderTree.ts';

export interface StartOptions {
  env: Env;
  name: string;
  tree: SupervisorSpec;
  dataDir: string;
  /** Where the live tree and the stop lines go (stdout). */
  out: { write(s: string): void; isTTY?: boolean };
  /** Where a failure is told (stderr); default `out`. */
  err?: { write(s: string): void };
  /** Print nothing but JSON lines: no tree, stop lines as log records. */
  json?: boolean;
}

/**
 * `ordo start`: boots a tree as an application, shows the live tree (redrawn on every change),
 * mirrors it to `<dataDir>/ordo-tree.json` for `ordo tree`, and on SIGINT/SIGTERM stops it in
 * reverse order, telling each child as it stops. The status file gets the final state on every
 * stop (writes are chained and awaited; the atomic write leaves no temp file). Resolves with the
 * exit code: 0 after an orderly stop, 1 when the start failed or the root gave up.
 */
export async function runStart(options: StartOptions): Promise<{ code: number; app: ApplicationHandle }> {
  const { env, out, dataDir } = options;
  const err = options.err ?? out;
  await env.io.fs.mkdir(dataDir, { recursive: true });
  const statusFile = `${dataDir}/ordo-tree.json`;
  let pendingDraw: unknown;
  let lastShown = '';
  let app!: ApplicationHandle;
  let writes: Promise<unknown> = Promise.resolve();
  /** pid → child path, kept from the last health read: names the children as they stop. */
  let names = new Map<string, string>();
  const draw = (): void => {
    if (pendingDraw !== undefined) env.clock.clearTimeout(pendingDraw);
    pendingDraw = undefined;
    const health = app.health();
    names = pidNames(health.children, names);
    if (!options.json) {
      const text = renderTree(health, { color: !!out.isTTY });
      if (text !== lastShown) {
        lastShown = text;
        out.write(out.isTTY ? `\x1b[2J\x1b[H${text}\n\n(Ctrl-C stops the tree in reverse order)\n` : `${text}\n\n`);
      }
    }
    // chained, so the file always ends with the latest state
    const body = JSON.stringify({ at: env.clock.now(), health }, null, 2);
    writes = writes.then(() => env.io.fs.writeFileAtomic(statusFile, body)).catch((e: unknown) => env.logger.warn({ err: e, statusFile }, 'could not write the tree status file'));
  };
  const scheduleDraw = (): void => {
    if (pendingDraw === undefined) pendingDraw = env.clock.setTimeout(draw, 25);
  };
  app = startApplication({ name: options.name, env, tree: options.tree, startType: 'temporary', handleSignals: false, onChange: scheduleDraw });

  let stopping = false;
  const unsubscribe: (() => void)[] = [];
  const onSignal = (signal: string) => () => {
    if (stopping) return;
    stopping = true;
    draw();
    if (options.json) env.logger.info({ report: 'cli_stopping', signal }, `${signal}: stopping the tree in reverse order`);
    else out.write(`\n${signal}: stopping ${options.name} in reverse order…\n`);
    unsubscribe.push(
      app.kernel.onLifecycle((e: LifecycleEvent) => {
        if (e.type !== 'exit') return;
        const child = names.get(String(e.pid));
        if (child === undefined) return;
        if (options.json) env.logger.info({ report: 'cli_child_stopped', child, pid: String(e.pid) }, `stopped ${child}`);
        else out.write(`  stopped ${child} ${String(e.pid)}\n`);
      }),
    );
    void app.stop();
  };
  unsubscribe.push(env.io.process.onSignal('SIGINT', onSignal('SIGINT')), env.io.process.onSignal('SIGTERM', onSignal('SIGTERM')));

  let failed: unknown;
  app.ready.then(draw, (e: unknown) => (failed = e));
  const exit = await app.exited;
  for (const u of unsubscribe) u();
  draw();
  await writes;
  if (failed !== undefined && !stopping) err.write(`ordo: start failed: ${(failed as Error).message}\n`);
  else if (exit.code !== 0) err.write(`ordo: ${options.name} ended with code ${exit.code}: ${JSON.stringify(app.health().exit?.reason)}\n`);
  else if (!options.json) out.write(`${options.name} stopped\n`);
  return { code: exit.code, app };
}

/** pid → path of every running child (a stopping child keeps the name it had). */
function pidNames(children: readonly ChildHealth[], previous: Map<string, string>, path = '', into = new Map(previous)): Map<string, string> {
  for (const c of children) {
    const p = path ? `${path}/${c.id ?? '·'}` : (c.id ?? '·');
    if (c.pid && c.pid !== 'restarting') into.set(c.pid, p);
    if (c.children) pidNames(c.children, previous, p, into);
  }
  return into;
}

/** The health of a stopped or failed application, for tests and tools. */
export type { ApplicationHealth };
