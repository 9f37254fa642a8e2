import type { Env } from '../env/env.ts';
import { openStore } from '../store/openStore.ts';
import { restoreStore } from '../store/restore.ts';
import { repairStore } from '../store/repair.ts';
import { StoreError } from '../store/errors.ts';
import type { StoreInfo } from '../store/admin.ts';

const USAGE = `ordo store — the table store's tools (the store must not be open by a running app: RocksDB's LOCK)

Usage:
  ordo store info    --dir DIR [--json]              tables, rows, memory, indexes, schema version, disk, last backup
  ordo store export  --dir DIR --out FILE [--table T]  human-readable NDJSON ({"table","row"} per line)
  ordo store import  --dir DIR --in FILE              validate every line, then write in atomic batches
  ordo store backup  --dir DIR --out FILE             consistent backup file
  ordo store restore --from FILE --dir NEWDIR         restore a backup into a new directory
  ordo store repair  --dir DIR [--backup-dir D]       accept a loss the store refused to open with
                                                      (ORDO_STORE_CORRUPT: WAL behind the acknowledged
                                                      commits): backup first, loss recorded in the
                                                      schema history; never deletes a file
`;

/** Where the store commands print (stdout by default; tests capture it). */
export type Out = (text: string) => void;

function parse(argv: string[]): { cmd: string | undefined; flags: Record<string, string | true> } {
  const flags: Record<string, string | true> = {};
  let cmd: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--') && a !== '--json') {
        flags[a.slice(2)] = next;
        i++;
      } else flags[a.slice(2)] = true;
    } else if (cmd === undefined) cmd = a;
  }
  return { cmd, flags };
}

function renderInfo(i: StoreInfo): string {
  const lines = [`store ${i.dir}`, `schema version ${i.schemaVersion}; commits ${i.commitSeq}; disk ${i.diskBytes} bytes`];
  for (const h of i.history) lines.push(`  v${h.version} ${h.description} (applied at ${h.appliedAt})`);
  lines.push(i.lastBackup ? `last backup: ${i.lastBackup.path} at ${i.lastBackup.at} (${i.lastBackup.entries} entries)` : 'last backup: none');
  if (i.migrationInProgress) lines.push(`migration in progress: ${JSON.stringify(i.migrationInProgress)}`);
  lines.push('tables:');
  for (const t of i.tables) {
    lines.push(`  ${t.name}: ${t.type} ${t.storage}${t.replicated ? ' replicated' : ''}, key ${t.key.join('+')}, ${t.rows} rows, ~${t.memoryBytes} bytes RAM, indexes [${t.indexes.join(', ')}]${t.corrupt ? `, CORRUPT ${t.corrupt === -1 ? 'table unreadable' : `${t.corrupt} rows`}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * `ordo store info | export | import | backup | restore | repair`. Opens the store as stored (no
 * declarations, so no migration runs), with `expectExisting` (a tool never creates a store).
 * Returns the exit code: 0 ok, 1 a typed store error (printed with its code), 2 bad usage.
 *
 * @example
 * import { createRealEnv } from 'ordo';
 * import { openStore } from 'ordo/store';
 * import { storeCommand } from './store.ts';
 *
 * const env = createRealEnv({ logTo: 'stderr' });
 * await (await openStore({ env, dir: './data/store', tables: {} })).close();
 * const code = await storeCommand(['info', '--dir', './data/store'], env); // what `ordo store info` prints
 * console.log(code); // 0
 */
export async function storeCommand(argv: string[], env: Env, out: Out = (s) => void process.stdout.write(s), err: Out = out): Promise<number> {
  const { cmd, flags } = parse(argv);
  const str = (k: string): string | undefined => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
  const dir = str('dir');
  const need = (...ks: string[]): boolean => {
    const missing = ks.filter((k) => str(k) === undefined);
    if (missing.length > 0) err(`ordo store ${cmd}: missing ${missing.map((m) => `--${m}`).join(', ')}\n(see 'ordo store --help')\n`);
    return missing.length === 0;
  };
  try {
    switch (cmd) {
      case 'restore': {
        if (!need('from', 'dir')) return 2;
        const r = await restoreStore(env, str('from')!, dir!);
        out(`restored ${r.entries} entries into ${dir}\n`);
        return 0;
      }
      case 'repair': {
        if (!need('dir')) return 2;
        const r = await repairStore(env, dir!, str('backup-dir') ? { backupDir: str('backup-dir')! } : {});
        if (!r.repaired) out(`nothing to repair: ${r.dir} is intact (commit ${r.commitSeq})\n`);
        else out(`repaired ${r.dir}: accepted the loss of commits ${r.recovered + 1}..${r.acknowledged} (recorded in the schema history)\n  ${r.accepted.join('\n  ')}\nbackup of what was recovered: ${r.backup}\n`);
        return 0;
      }
      case 'info':
      case 'export':
      case 'import':
      case 'backup': {
        if (!need('dir', ...(cmd === 'export' || cmd === 'backup' ? ['out'] : cmd === 'import' ? ['in'] : []))) return 2;
        const store = await openStore({ env, dir: dir!, expectExisting: true });
        try {
          if (cmd === 'info') {
            const i = await store.info();
            out(flags['json'] ? JSON.stringify(i, null, 2) + '\n' : renderInfo(i));
          } else if (cmd === 'export') {
            const n = await store.exportNdjson(str('out')!, str('table') ? [str('table')!] : undefined);
            out(`exported ${n} rows to ${str('out')}\n`);
          } else if (cmd === 'import') {
            const n = await store.importNdjson(str('in')!);
            out(`imported ${n} rows from ${str('in')}\n`);
          } else {
            const b = await store.backup(str('out')!);
            out(`backup of ${b.entries} entries (${b.bytes} bytes) written to ${b.path}\n`);
          }
        } finally {
          await store.close();
        }
        return 0;
      }
      case undefined:
      case 'help':
        out(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        err(`ordo store: unknown command '${cmd}'\n(see 'ordo store --help')\n`);
        return 2;
    }
  } catch (e) {
    if (e instanceof StoreError) {
      err(`ordo store ${cmd}: ${e.code}: ${e.message}\n`);
      env.logger.debug({ err: e, report: 'store_cli_failed', command: cmd }, 'store command failed');
      return 1;
    }
    throw e;
  }
}
