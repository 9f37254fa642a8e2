import type { Env } from '../env/index.ts';
import { startApplication, type ApplicationHandle, type ApplicationHealth } from '../supervisor/index.ts';
import type { SupervisorSpec } from '../supervisor/index.ts';
import { renderTree } from './renderTree.ts';

export interface StartOptions {
  env: Env;
  name: string;
  tree: SupervisorSpec;
  dataDir: string;
  /** Where the live tree goes (stdout for the CLI). */
  out: { write(s: string): void; isTTY?: boolean };
  /** Stop after the first restart has been observed and the tree is whole again (used by tests and CI). */
  once?: boolean;
}

/**
 * `ordo start`: boots a tree as an application, shows the live tree (redrawn on every
 * lifecycle change), mirrors it to `<dataDir>/ordo-tree.json` for `ordo tree`, and stops in
 * order on SIGINT/SIGTERM. Resolves with the exit code.
 */
export async function runStart(options: StartOptions): Promise<{ code: number; app: ApplicationHandle }> {
  const { env, out, dataDir } = options;
  await env.io.fs.mkdir(dataDir, { recursive: true });
  const statusFile = `${dataDir}/ordo-tree.json`;
  let pendingDraw: unknown;
  let lastShown = '';
  let app!: ApplicationHandle;
  let writes: Promise<unknown> = Promise.resolve();
  const draw = (): void => {
    pendingDraw = undefined;
    const health = app.health();
    const text = renderTree(health, { color: !!out.isTTY });
    if (text !== lastShown) {
      lastShown = text;
      out.write(out.isTTY ? `\x1b[2J\x1b[H${text}\n\n(Ctrl-C stops the tree in reverse order)\n` : `${text}\n\n`);
    }
    // Writes are chained so the file always ends with the latest state.
    const body = JSON.stringify({ at: env.clock.now(), health }, null, 2);
    writes = writes
      .then(() => env.io.fs.writeFileAtomic(statusFile, body))
      .catch((e: unknown) => env.logger.warn({ err: e, statusFile }, 'could not write the tree status file'));
  };
  const scheduleDraw = (): void => {
    if (pendingDraw === undefined) pendingDraw = env.clock.setTimeout(draw, 25);
  };
  app = startApplication({ name: options.name, env, tree: options.tree, startType: 'permanent', onChange: scheduleDraw });
  try {
    await app.ready;
  } catch (e) {
    draw();
    await writes;
    out.write(`start failed: ${(e as Error).message}\n`);
    return { code: 1, app };
  }
  draw();
  if (options.once) {
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (restartedAndWhole(app.health())) return resolve();
        env.clock.setTimeout(check, 50);
      };
      check();
    });
    draw(); // show the restarted tree before it stops
    const exit = await app.stop();
    draw();
    await writes;
    return { code: exit.code, app };
  }
  const exit = await app.exited;
  if (pendingDraw !== undefined) env.clock.clearTimeout(pendingDraw);
  draw();
  await writes;
  return { code: exit.code, app };
}

/** True once some child has been restarted and every child is running again. */
export function restartedAndWhole(health: ApplicationHealth): boolean {
  let restarted = false;
  let whole = health.status === 'ready';
  const walk = (children: ApplicationHealth['children']): void => {
    for (const c of children) {
      if (c.restarts > 0) restarted = true;
      if (!c.pid || c.pid === 'restarting') whole = false;
      if (c.children) walk(c.children);
    }
  };
  walk(health.children);
  return restarted && whole;
}
