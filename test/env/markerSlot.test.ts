import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createMarker, markerSlotWrite, readMarker } from '../../src/env/rocksdbMarker.ts';
import type { KvMarker } from '../../src/env/kv.ts';

// The marker slot a strict acknowledgement writes (env/rocksdbMarker.ts), encoded without BigInt
// since issue 13: byte for byte the documented layout `magic(8) id(16) epoch(8) mark(8) flags(1)
// reserved(19) crc32(4)` with big-endian u64s, for every epoch and mark up to 2^53 - 1, and read
// back by readMarker as the newest slot.

/** The layout written the documented way, with BigInt u64s (how the slot was encoded before). */
function documented(id: Buffer, epoch: number, mark: number, adopted: boolean): Buffer {
  const b = Buffer.alloc(64);
  Buffer.from('ORDOMRK1', 'latin1').copy(b, 0);
  id.copy(b, 8);
  b.writeBigUInt64BE(BigInt(epoch), 24);
  b.writeBigUInt64BE(BigInt(mark), 32);
  b[40] = adopted ? 1 : 0;
  b.writeUInt32BE(crc32(b.subarray(0, 60)), 60);
  return b;
}

const u64 = fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(0, 1, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER));

describe('marker slot encoding', () => {
  it('is the documented layout for any id, epoch, mark and flag, and reads back as the newest slot (property)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-marker-slot-'));
    try {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), u64, u64, fc.boolean(), (idBytes, epoch0, mark, adopted) => {
          const epoch = Math.min(epoch0, Number.MAX_SAFE_INTEGER - 1);
          const id = Buffer.from(idBytes);
          const m: KvMarker = { file: `${dir}/ORDO_STORE`, id: id.toString('hex'), mark: 0, epoch, adopted };
          const w = markerSlotWrite(m, mark);
          expect(w.next).toEqual({ file: m.file, id: m.id, mark, epoch: epoch + 1, adopted });
          expect(w.offset).toBe(((epoch + 1) % 2) * 64);
          expect(w.data.equals(documented(id, epoch + 1, mark, adopted))).toBe(true);
          // the other slot holds an older epoch: readMarker takes this one
          const file = Buffer.alloc(128);
          w.data.copy(file, w.offset);
          documented(id, epoch, 0, adopted).copy(file, 64 - w.offset);
          writeFileSync(`${dir}/ORDO_STORE`, file);
          expect(readMarker(dir)).toEqual({ file: `${dir}/ORDO_STORE`, id: m.id, mark, epoch: epoch + 1, adopted });
        }),
        { numRuns: 300 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a marker file that cannot prove whose it is', () => {
  const withFile = (bytes: Buffer, check: (dir: string) => void): void => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-marker-damaged-'));
    try {
      writeFileSync(join(dir, 'ORDO_STORE'), bytes);
      check(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is refused when its two intact slots name different stores (a slot spliced in from another marker)', () => {
    const a = Buffer.alloc(16, 0xaa);
    const b = Buffer.alloc(16, 0xbb);
    withFile(Buffer.concat([documented(a, 6, 100, false), documented(b, 7, 5, false)]), (dir) => {
      expect(() => readMarker(dir)).toThrow(expect.objectContaining({ kind: 'corrupt', message: expect.stringMatching(/different stores, a{32} and b{32}/) }));
    });
  });

  it('is refused when it holds more than its two slots', () => {
    const a = Buffer.alloc(16, 0xaa);
    withFile(Buffer.concat([documented(a, 6, 100, false), documented(a, 7, 101, false), Buffer.from('garbage')]), (dir) => {
      expect(() => readMarker(dir)).toThrow(expect.objectContaining({ kind: 'corrupt', message: expect.stringMatching(/135 bytes, more than its two 64-byte slots/) }));
    });
  });

  it('still reads when both slots are the same store (control)', () => {
    const a = Buffer.alloc(16, 0xaa);
    withFile(Buffer.concat([documented(a, 6, 100, false), documented(a, 7, 101, false)]), (dir) => {
      expect(readMarker(dir)).toMatchObject({ id: 'aa'.repeat(16), epoch: 7, mark: 101 });
    });
  });
});

describe('a new marker', () => {
  it('keeps its epoch in the slot the epoch names, so the first update does not overwrite it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-marker-new-'));
    try {
      const m = createMarker(dir, 0, false);
      const bytes = readFileSync(join(dir, 'ORDO_STORE'));
      const id = Buffer.from(m.id, 'hex');
      // epoch e in slot e % 2 (as every update writes it): epoch 1 in the second slot
      expect(bytes.equals(Buffer.concat([documented(id, 0, 0, false), documented(id, 1, 0, false)]))).toBe(true);
      // the first update goes to the other slot: the current one stays readable while it is written
      expect(markerSlotWrite(m, 1).offset).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
