import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { crc32 } from 'node:zlib';
import { KvError } from './kv.ts';
import type { KvMarker } from './kv.ts';

/**
 * Ordo's own files beside RocksDB's, the evidence a damaged RocksDB cannot erase:
 *
 * - `ORDO_STORE` (the **marker**): the store's identity (a random id, whether it was created by
 *   this format or adopted from an older store) and its **durable commit watermark** — the
 *   highest commit mark whose synced write was acknowledged. 128 bytes: two 64-byte slots, each
 *   `magic(8) id(16) epoch(8) mark(8) flags(1) reserved(19) crc32(4)`; an update rewrites the
 *   slot `epoch % 2` in place and fdatasyncs, so a torn write spoils only the slot being written
 *   (whose commit was not acknowledged yet) and the other slot still holds the previous mark.
 *   Created atomically (temp file, fsync, rename, fsync of the directory).
 * - `ordo-open-guard/` (the **guard**): hard links to every RocksDB file taken before RocksDB
 *   opens the directory. RocksDB deletes and replaces files while it opens (obsolete SSTs and
 *   logs, a new MANIFEST and CURRENT); if the store then refuses what it found, the guard puts
 *   the directory back exactly as it was, so a refused open loses nothing and refuses again.
 *   Released (links removed) once the store accepted what it opened, before its first write.
 *   Built aside (`ordo-open-guard.tmp-<pid>-<host>`) and renamed into place whole.
 */
export const MARKER_FILE = 'ORDO_STORE';
export const GUARD_DIR = 'ordo-open-guard';

const MAGIC = Buffer.from('ORDOMRK1', 'latin1');
const SLOT = 64;
const FLAG_ADOPTED = 1;

/** Writes a non-negative safe integer as a big-endian u64 at `at` (the bytes `writeBigUInt64BE(BigInt(n))` writes, without a BigInt). */
function writeU64(b: Buffer, n: number, at: number): void {
  const hi = Math.floor(n / 0x1_0000_0000);
  b.writeUInt32BE(hi, at);
  b.writeUInt32BE(n - hi * 0x1_0000_0000, at + 4);
}

function encodeSlot(id: Buffer, epoch: number, mark: number, adopted: boolean): Buffer {
  const b = Buffer.alloc(SLOT);
  MAGIC.copy(b, 0);
  id.copy(b, 8, 0, 16);
  writeU64(b, epoch, 24);
  writeU64(b, mark, 32);
  b[40] = adopted ? FLAG_ADOPTED : 0;
  b.writeUInt32BE(crc32(b.subarray(0, 60)), 60);
  return b;
}

/** The id bytes of the last marker id decoded (one store's marker is written once per synced batch: its hex is decoded once). */
let lastId: { hex: string; bytes: Buffer } | undefined;
function idBytes(hex: string): Buffer {
  if (lastId?.hex !== hex) lastId = { hex, bytes: Buffer.from(hex, 'hex') };
  return lastId.bytes;
}

function decodeSlot(b: Buffer): { id: Buffer; epoch: number; mark: number; adopted: boolean } | undefined {
  if (b.length < SLOT || !b.subarray(0, 8).equals(MAGIC)) return undefined;
  if (b.readUInt32BE(60) !== crc32(b.subarray(0, 60))) return undefined;
  return { id: Buffer.from(b.subarray(8, 24)), epoch: Number(b.readBigUInt64BE(24)), mark: Number(b.readBigUInt64BE(32)), adopted: (b[40]! & FLAG_ADOPTED) !== 0 };
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes all of `data` at `position` of `fd`: a short write (the kernel may take fewer bytes, as on
 * a disk filling up) is continued with the rest, so the next call reports the error (ENOSPC)
 * instead of a torn slot being taken for a written one. @internal
 */
export function writeFullySync(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) {
    const n = fs.writeSync(fd, data, done, data.length - done, position + done);
    if (n <= 0) throw Object.assign(new Error(`write of the store marker took ${done} of ${data.length} bytes`), { code: 'EIO' });
    done += n;
  }
}

/**
 * Reads the marker of `dir`: `undefined` when there is none; throws `KvError('corrupt')` when
 * neither slot is intact, when the two intact slots name different stores (a slot spliced in from
 * another store's marker: whose watermark it is cannot be proven), or when the file holds more
 * than its two slots (Ordo never writes more).
 */
export function readMarker(dir: string): KvMarker | undefined {
  const file = `${dir}/${MARKER_FILE}`;
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KvError(kindOfErrno(err), `${file}: cannot read the store marker: ${(err as Error).message}`, dir, { cause: err });
  }
  if (buf.length > 2 * SLOT) throw new KvError('corrupt', `${file}: store marker damaged (${buf.length} bytes, more than its two ${SLOT}-byte slots); the store's identity and commit watermark cannot be proven`, dir, { file });
  const slots = [decodeSlot(buf.subarray(0, SLOT)), decodeSlot(buf.subarray(SLOT, 2 * SLOT))].filter((s) => s !== undefined);
  if (slots.length === 2 && !slots[0]!.id.equals(slots[1]!.id)) throw new KvError('corrupt', `${file}: store marker damaged (its two slots name different stores, ${slots[0]!.id.toString('hex')} and ${slots[1]!.id.toString('hex')}); the store's identity and commit watermark cannot be proven`, dir, { file });
  const best = slots.sort((a, b) => b.epoch - a.epoch)[0];
  if (!best) throw new KvError('corrupt', `${file}: store marker damaged (no intact slot of ${buf.length} bytes); the store's identity and commit watermark cannot be proven`, dir, { file });
  return { file, id: best.id.toString('hex'), mark: best.mark, epoch: best.epoch, adopted: best.adopted };
}

/** Creates the marker atomically (`adopted`: the directory already held an older store without one). */
export function createMarker(dir: string, mark: number, adopted: boolean): KvMarker {
  const file = `${dir}/${MARKER_FILE}`;
  const id = randomBytes(16);
  const tmp = `${file}.tmp-${process.pid}`;
  // epoch e lives in slot e % 2 (markerSlotWrite): epoch 1 in the second slot, so the first
  // update (epoch 2, the first slot) leaves it intact while it writes
  const data = Buffer.concat([encodeSlot(id, 0, 0, adopted), encodeSlot(id, 1, mark, adopted)]);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeFullySync(fd, data, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new KvError(kindOfErrno(err), `${file}: cannot write the store marker: ${(err as Error).message}`, dir, { cause: err });
  }
  return { file, id: id.toString('hex'), mark, epoch: 1, adopted };
}

/**
 * An open marker: `advance(mark)` durably records a new watermark (pwrite of one slot +
 * fdatasync). Runs on whichever thread performs the synced write (the sync writer passes the
 * descriptor to its worker, see {@link markerSlotWrite}).
 */
export interface MarkerHandle {
  readonly fd: number;
  current: KvMarker;
  close(): void;
}

/** Opens the marker file for in-place updates. */
export function openMarker(m: KvMarker): MarkerHandle {
  const fd = fs.openSync(m.file, 'r+');
  return {
    fd,
    current: m,
    close: () => fs.closeSync(fd),
  };
}

/** The bytes and offset that record `mark` as the next epoch of `m` (pure; the writer does the I/O). */
export function markerSlotWrite(m: KvMarker, mark: number): { data: Buffer; offset: number; next: KvMarker } {
  const epoch = m.epoch + 1;
  return { data: encodeSlot(idBytes(m.id), epoch, mark, m.adopted), offset: (epoch % 2) * SLOT, next: { file: m.file, id: m.id, mark, epoch, adopted: m.adopted } };
}

/** Records `mark` synchronously on this thread (write + fdatasync). */
export function advanceMarkerSync(h: MarkerHandle, mark: number): void {
  const w = markerSlotWrite(h.current, mark);
  writeFullySync(h.fd, w.data, w.offset);
  fs.fdatasyncSync(h.fd);
  h.current = w.next;
}

/** Maps an errno to a key-value error kind. */
export function kindOfErrno(err: unknown): 'nospace' | 'readonly' | 'io' {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'nospace';
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') return 'readonly';
  return 'io';
}

// ---- the open guard ----

/** RocksDB's files worth guarding (everything but the LOCK, our marker and sub-directories). */
function guardedNames(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name !== 'LOCK' && e.name !== MARKER_FILE && !e.name.includes('.tmp-'))
    .map((e) => e.name);
}

/**
 * Links every RocksDB file of `dir` into `dir/ordo-open-guard/` (an owner file names this
 * process). Throws `KvError('locked')` when a live process on this host is inside its own
 * guarded open of the same directory, or takes the guard first.
 *
 * The guard is built aside (`ordo-open-guard.tmp-<pid>-<host>`: owner, links, `complete`) and renamed
 * into place whole, so another process opening the store at the same moment sees no guard or a
 * whole one — never one without its owner, which it would take for one abandoned and remove
 * under this open (and this open's cleanup, its rename then failing, removed that one's guard).
 */
export function takeGuard(dir: string): void {
  const g = `${dir}/${GUARD_DIR}`;
  // an earlier open did not finish: restore what it guarded (unless its process still runs)
  if (fs.existsSync(g)) restoreGuard(dir, false);
  const aside = `${g}.tmp-${process.pid}-${hostname()}`;
  try {
    dropAsideGuards(dir);
    fs.mkdirSync(aside);
    // the process's start time tells this process from a later one given the same pid
    fs.writeFileSync(`${aside}/owner`, `${hostname()} ${process.pid} ${startTimeOf(process.pid) ?? '-'}\n`);
    for (const name of guardedNames(dir)) fs.linkSync(`${dir}/${name}`, `${aside}/${name}`);
    fs.writeFileSync(`${aside}/complete`, '');
    fsyncDir(aside);
  } catch (err) {
    fs.rmSync(aside, { recursive: true, force: true });
    throw new KvError(kindOfErrno(err), `${g}: cannot link the store's files into the open guard: ${(err as Error).message}`, dir, { cause: err });
  }
  try {
    fs.renameSync(aside, g);
    fsyncDir(dir);
  } catch (err) {
    fs.rmSync(aside, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // another process placed its guard since the check above: it is inside its guarded open
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new KvError('locked', `${g}: another process on this host is opening this store`, dir, { cause: err });
    throw new KvError(kindOfErrno(err), `${g}: cannot put the open guard in place: ${(err as Error).message}`, dir, { cause: err });
  }
}

/** Guards left aside by a process of this host killed while it built one (their links would keep obsolete files on disk): removed unless that process runs. */
function dropAsideGuards(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const m = /^ordo-open-guard\.tmp-(\d+)-(.*)$/.exec(name);
    if (m === null || m[2] !== hostname()) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidRuns(pid)) continue;
    fs.rmSync(`${dir}/${name}`, { recursive: true, force: true });
  }
}

/** Whether a process `pid` runs on this host (EPERM: it runs, as another user). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** When process `pid` started (clock ticks since boot, `/proc/<pid>/stat` field 22); `undefined` where unknown (not Linux, gone). */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // after the command name, which may hold spaces and parentheses: fields 3…
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether the process named by the guard's owner file may still be inside its guarded open.
 * No owner, or one not written whole (no final newline: a guard taken before owners were written
 * atomically): no process can be shown to hold it — as for a missing one — so it is restored. A
 * whole owner this version cannot parse is assumed to run. A pid that runs but started at another
 * time than the owner did is a later process given the same pid.
 */
function ownerAlive(g: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync(`${g}/owner`, 'utf8');
  } catch {
    return false;
  }
  const m = /^(\S+) (\d+)(?: (\S+))?\n$/.exec(text);
  // every version ends its owner with a newline: without one it was cut short (a kill while an
  // older version wrote it in place) — no live owner; with one it was written whole, in a format
  // this version cannot read (a later version's, a host name with a space): cannot tell, assume
  // it runs (restoring a live process's guard would undo what its open is still guarding)
  if (m === null) return text.endsWith('\n');
  const [, host, pidText, started] = m;
  const pid = Number(pidText);
  if (host !== hostname()) return true; // cannot tell: assume it runs
  if (pid === process.pid) return false; // ours, from an open of this process that did not finish
  if (!pidRuns(pid)) return false;
  const now = started === undefined || started === '-' ? undefined : startTimeOf(pid);
  return now === undefined || now === started;
}

/**
 * Puts `dir` back as it was when the guard was taken: every guarded file RocksDB deleted or
 * replaced is linked back (the guard keeps its links until the directory is whole), files RocksDB
 * created since are removed (they derive from the restored ones), then the guard is removed.
 * `own`: the caller holds the database's LOCK (skips the live-owner check). A guard whose links
 * were not all taken is simply removed.
 *
 * Two processes may restore the same dead guard at once: each reads the whole guard (it is never
 * consumed while restoring), so both put back the same files. The one that finds a file of the
 * guard, or the guard itself, gone (ENOENT: the other finished and removed it) checks again from
 * the start — no guard left: the other restored the directory. Any other failure, or a guard that
 * keeps vanishing under it, throws a `KvError` (the guard left in place for the next open).
 */
export function restoreGuard(dir: string, own: boolean): void {
  const g = `${dir}/${GUARD_DIR}`;
  for (let attempt = 1; ; attempt++) {
    try {
      restoreGuardOnce(dir, g, own);
      return;
    } catch (err) {
      if (err instanceof KvError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 3) continue;
      throw new KvError(kindOfErrno(err), `${g}: cannot restore the store's files from the open guard: ${(err as Error).message}`, dir, { cause: err });
    }
  }
}

function restoreGuardOnce(dir: string, g: string, own: boolean): void {
  if (!fs.existsSync(g)) return;
  if (!own && ownerAlive(g)) throw new KvError('locked', `${g}: another process on this host is opening this store`, dir);
  if (fs.existsSync(`${g}/complete`)) {
    const guarded = fs.readdirSync(g).filter((n) => n !== 'owner' && n !== 'owner.tmp' && n !== 'complete');
    const keep = new Set(guarded);
    for (const name of guarded) {
      const from = `${g}/${name}`;
      const to = `${dir}/${name}`;
      const ino = fs.statSync(from).ino;
      if (fs.statSync(to, { throwIfNoEntry: false })?.ino === ino) continue;
      // a link of our own beside it, renamed over it: the guard keeps its link, the name is
      // never missing, and another process restoring at once links the same file
      const tmp = `${to}.tmp-restore-${process.pid}`;
      fs.rmSync(tmp, { force: true });
      fs.linkSync(from, tmp);
      try {
        fs.renameSync(tmp, to);
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw err;
      }
    }
    for (const name of guardedNames(dir)) if (!keep.has(name) && /^(\d+\.(sst|log|blob)|MANIFEST-\d+|OPTIONS-\d+|CURRENT|IDENTITY)$/.test(name)) fs.rmSync(`${dir}/${name}`, { force: true });
    fsyncDir(dir);
  }
  fs.rmSync(g, { recursive: true, force: true });
}

/** Removes the guard: the store accepted what it opened (the links go; RocksDB's deletions take effect). */
export function releaseGuard(dir: string): void {
  fs.rmSync(`${dir}/${GUARD_DIR}`, { recursive: true, force: true });
}
