import { CommandError } from './args.ts';

/** Registers tsx's loader (a dev dependency of the repository, not of the package); false when absent. */
async function registerTsx(): Promise<boolean> {
  try {
    const tsx = (await import('tsx/esm/api')) as { register: () => unknown };
    tsx.register();
    return true;
  } catch {
    return false;
  }
}

/**
 * Imports a module by URL for the CLI (a tree, an incident catalogue). A TypeScript module on a
 * Node that cannot strip types (20) is loaded through tsx when it is installed (a checkout of the
 * repository); anything else that fails is a {@link CommandError} naming `what`.
 */
export async function importModule<T>(url: string, what: string): Promise<T> {
  try {
    return (await import(url)) as T;
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !(await registerTsx())) {
      throw new CommandError(`cannot load ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    // the failed load is cached under `url`: load it again under another specifier
    return (await import(`${url}${url.includes('?') ? '&' : '?'}tsx`)) as T;
  }
}
