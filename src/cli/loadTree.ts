import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SupervisorSpec } from '../supervisor/index.ts';
import { OrdoError } from '../errors.ts';

/** What `ordo start` passes to a tree module's factory. */
export interface TreeOptions {
  /** `--data DIR` (default `./data`). */
  readonly dataDir: string;
  /** `--nats URL[,URL]`: NATS servers; absent → single-node mode. */
  readonly nats?: readonly string[] | undefined;
}

/** A tree module's factory: `export function tree(options)` (or the default export). */
export type TreeFactory = (options: TreeOptions) => SupervisorSpec | Promise<SupervisorSpec>;

/** `ordo start --tree MODULE`: the module is missing or exports no tree factory. */
export class TreeModuleError extends OrdoError {
  readonly code = 'ORDO_CLI_TREE_MODULE' as const;
  readonly module: string;
  constructor(module: string, problem: string, options?: { cause?: unknown }) {
    super(`tree module ${module}: ${problem}`, options);
    this.module = module;
  }
}

/**
 * Loads the tree `ordo start` boots: a module (path relative to the working directory) whose
 * `tree` export (or default export) is a {@link TreeFactory}. A `.ts` module runs as is on a
 * Node that strips types (22.18+, 24); on Node 20 it is loaded through `tsx` when that is
 * installed (a dev dependency of the repository, not of the package).
 */
export async function loadTree(module: string, options: TreeOptions): Promise<SupervisorSpec> {
  const file = resolve(module);
  const url = pathToFileURL(file).href;
  let mod: { tree?: unknown; default?: unknown };
  try {
    mod = (await import(url)) as typeof mod;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && (e as Error).message.includes(file)) throw new TreeModuleError(module, 'not found', { cause: e });
    if (code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw new TreeModuleError(module, 'failed to load', { cause: e });
    try {
      const tsx = (await import('tsx/esm/api')) as { register: () => unknown };
      tsx.register();
    } catch (e2) {
      throw new TreeModuleError(module, 'is TypeScript and this Node cannot strip types: compile it, or install tsx', { cause: e2 });
    }
    // the failed load is cached under `url`: load it again under another specifier
    mod = (await import(`${url}?ts`)) as typeof mod;
  }
  const factory = mod.tree ?? mod.default;
  if (typeof factory !== 'function') throw new TreeModuleError(module, "exports no 'tree' function (nor a default export)");
  return (factory as TreeFactory)(options);
}
