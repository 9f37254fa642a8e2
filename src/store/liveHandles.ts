import type { Logger } from '../env/logger.ts';
import { StoreLockedError } from './errors.ts';

/** What the registry needs of a live store handle. */
export interface LiveHandle {
  close(): Promise<void>;
}

interface Entry {
  readonly owner: unknown;
  handle: LiveHandle | undefined;
}

/** A claim on a directory, returned by {@link LiveHandleRegistry.claim}. */
export interface HandleLease {
  /** The canonical directory claimed. */
  readonly dir: string;
  /** Records the handle opened under this claim (so its owner can reclaim it if it leaks). */
  attach(handle: LiveHandle): void;
  /** Ends the claim (the handle closed, or the open failed). Idempotent. */
  release(): void;
}

/**
 * The live store handles of this process, by canonical directory (replaces a module-global map).
 *
 * One directory, one live handle: RocksDB's LOCK protects a directory against other processes,
 * but within one process two spellings of a path (`d`, `d/`, `d/.`, a relative path) would give
 * two handles whose writes interleave and are lost on reopen. Every `openStore` claims the
 * canonical path here first. A second claim is refused with `ORDO_STORE_LOCKED`
 * (`by: 'this_process'`) — the first handle is never closed behind its user's back — unless
 * the claimant is the handle's **owner** (the same non-`undefined` `owner` token, compared
 * with `Object.is`): then the handle is a leak of that owner (an initializer child that crashed
 * without closing it) and is closed first, with a `store_leaked_handle` warning.
 *
 * Gotcha: two applications in one process that open the same directory must not share an
 * owner token; the store-initializer's default token is derived from the directory.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { LiveHandleRegistry } from './liveHandles.ts';
 *
 * const env = createRealEnv();
 * const registry = new LiveHandleRegistry();
 * const store = await openStore({ env, dir: './data/store', tables: {}, registry, owner: 'app:store' });
 * await store.close();
 */
export class LiveHandleRegistry {
  readonly #entries = new Map<string, Entry>();

  /** Claims canonical `dir` for `owner`; reclaims the owner's own leaked handle; refuses anyone else. */
  async claim(dir: string, owner: unknown, logger?: Logger): Promise<HandleLease> {
    const held = this.#entries.get(dir);
    if (held) {
      if (owner === undefined || !Object.is(held.owner, owner)) {
        throw new StoreLockedError(dir, { by: 'this_process', detail: owner === undefined ? 'pass the owner token of the handle to reclaim it' : 'held by another owner' });
      }
      if (!held.handle) throw new StoreLockedError(dir, { by: 'this_process', detail: 'the same owner is opening it right now' });
      logger?.warn({ report: 'store_leaked_handle', dir }, 'closing a leaked handle of this owner before reopening');
      const leaked = held.handle;
      held.handle = undefined; // a concurrent claim by the same owner waits for nothing: refused above
      try {
        await leaked.close();
      } finally {
        if (this.#entries.get(dir) === held) this.#entries.delete(dir);
      }
      if (this.#entries.has(dir)) throw new StoreLockedError(dir, { by: 'this_process', detail: 'claimed again while the leaked handle closed' });
    }
    const entry: Entry = { owner, handle: undefined };
    this.#entries.set(dir, entry);
    let released = false;
    return {
      dir,
      attach: (handle) => {
        entry.handle = handle;
      },
      release: () => {
        if (released) return;
        released = true;
        if (this.#entries.get(dir) === entry) this.#entries.delete(dir);
      },
    };
  }

  /** Canonical directories with a live (or opening) handle. */
  dirs(): string[] {
    return [...this.#entries.keys()];
  }
}

/** The registry `openStore` uses unless given one: every store of this process. */
export const processHandles = new LiveHandleRegistry();
