import { OcipatchError } from "../../errors.js";
import { parseHeaderBlob } from "./header.js";
import type { RpmdbRecord } from "./rpmdb-sqlite.js";

/**
 * The NDB rpm database (`Packages.db`, rpm's own "new database": openSUSE Leap 15, SLES 15),
 * read-only. Format as rpm's `lib/backend/ndb/rpmpkg.c` writes it, all numbers little-endian
 * 32-bit, the file a whole number of 16-byte blocks:
 *
 * - bytes 0..31: the database header: magic "RpmP", version 0, generation, number of slot pages,
 *   next package index (rpmpkgReadHeader).
 * - slot pages (4096 bytes each) from offset 32 on: 16-byte slots "Slot", pkgidx, blkoff, blkcnt;
 *   blkoff 0 is a free slot (rpmpkgReadSlots). A used slot must lie after the slot pages and
 *   inside the file, with pkgidx and blkcnt not 0.
 * - at block `blkoff`, `blkcnt` blocks: the blob head "BlbS", pkgidx, generation, length; the
 *   header blob; zero padding; the tail ADLER-32 (of head, blob and padding), length, "BlbE"
 *   (rpmpkgReadBlob / rpmpkgWriteBlob). `blkcnt` is exactly the blocks head+blob+tail need.
 *
 * The package index is the header number (glue.c's ndb_pkgdbGet). rpm verifies the ADLER-32 in
 * rpmpkgVerifyblob (before it moves or deletes a blob, and in `rpmdb --verifydb`); it is verified
 * here for every blob. Overlapping blobs and a package index in two slots are refused (rpm
 * refuses to change such a database: rpmpkgFindEmptyOffset). Every offset is checked against the
 * file before it is read; nothing larger than the file is allocated.
 */

const PKGDB_MAGIC = 0x506d7052; // "RpmP"
const SLOT_MAGIC = 0x746f6c53; // "Slot"
const BLOBHEAD_MAGIC = 0x53626c42; // "BlbS"
const BLOBTAIL_MAGIC = 0x45626c42; // "BlbE"
const LZO_MAGIC = 0x424f5a4c; // "LZOB": a blob compressed by an rpm built with RPMPKG_LZO
const PKGDB_VERSION = 0;
const HEADER_SIZE = 32;
const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const PAGE_SIZE = 4096;
const BLOBHEAD_SIZE = 16;
const BLOBTAIL_SIZE = 12;

function bad(what: string, msg: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${what}: invalid NDB rpm database: ${msg}`);
}

/** ADLER-32 (RFC 1950) of `buf`, as rpmpkg.c's update_adler32 from its initial value 1. */
export function adler32(buf: Uint8Array, start = 1): number {
  let s1 = start & 0xffff;
  let s2 = (start >>> 16) & 0xffff;
  for (let i = 0; i < buf.length; ) {
    const end = Math.min(buf.length, i + 5552);
    for (; i < end; i++) {
      s1 += buf[i] as number;
      s2 += s1;
    }
    s1 %= 65521;
    s2 %= 65521;
  }
  return ((s2 << 16) | s1) >>> 0;
}

/** Whether `buf` starts like an NDB `Packages.db` (magic "RpmP"). */
export function isNdbPackages(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32LE(0) === PKGDB_MAGIC;
}

interface Slot {
  readonly slotno: number;
  readonly pkgidx: number;
  readonly blkoff: number;
  readonly blkcnt: number;
}

/** Read every header of an NDB `Packages.db` given as bytes; `what` names it in errors. */
export function readRpmdbNdb(db: Buffer, what: string): RpmdbRecord[] {
  if (db.length < HEADER_SIZE) throw bad(what, `truncated (${db.length} bytes)`);
  if (db.readUInt32LE(0) !== PKGDB_MAGIC) throw bad(what, 'no "RpmP" magic');
  const version = db.readUInt32LE(4);
  if (version !== PKGDB_VERSION) throw bad(what, `version ${version} (only ${PKGDB_VERSION} is known)`);
  const slotnpages = db.readUInt32LE(12);
  if (db.length % BLK_SIZE !== 0) throw bad(what, `size ${db.length} is not a multiple of ${BLK_SIZE}`);
  if (slotnpages === 0) throw bad(what, "no slot pages");
  if (slotnpages > Math.floor(db.length / PAGE_SIZE))
    throw bad(what, `truncated (${db.length} bytes for ${slotnpages} slot pages)`);
  const fileblks = db.length / BLK_SIZE;
  const minblkoff = slotnpages * (PAGE_SIZE / BLK_SIZE);

  const slots: Slot[] = [];
  const seen = new Map<number, number>();
  for (let at = HEADER_SIZE; at < slotnpages * PAGE_SIZE; at += SLOT_SIZE) {
    const slotno = at / SLOT_SIZE;
    if (db.readUInt32LE(at) !== SLOT_MAGIC) throw bad(what, `slot ${slotno} has no "Slot" magic`);
    const blkoff = db.readUInt32LE(at + 8);
    if (blkoff === 0) continue; // a free slot (deleted packages leave one)
    const pkgidx = db.readUInt32LE(at + 4);
    const blkcnt = db.readUInt32LE(at + 12);
    if (pkgidx === 0 || blkcnt === 0) throw bad(what, `slot ${slotno}: package ${pkgidx}, ${blkcnt} blocks`);
    if (blkoff < minblkoff) throw bad(what, `slot ${slotno}: blob at block ${blkoff}, inside the slot pages`);
    if (blkoff + blkcnt > fileblks)
      throw bad(what, `slot ${slotno}: blob at blocks ${blkoff}+${blkcnt} past the end (${fileblks} blocks)`);
    const other = seen.get(pkgidx);
    if (other !== undefined) throw bad(what, `package ${pkgidx} is in slots ${other} and ${slotno}`);
    seen.set(pkgidx, slotno);
    slots.push({ slotno, pkgidx, blkoff, blkcnt });
  }

  const byOffset = [...slots].sort((a, b) => a.blkoff - b.blkoff);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1] as Slot;
    const cur = byOffset[i] as Slot;
    if (prev.blkoff + prev.blkcnt > cur.blkoff)
      throw bad(what, `the blobs of packages ${prev.pkgidx} and ${cur.pkgidx} overlap`);
  }

  const records: RpmdbRecord[] = [];
  for (const s of slots) {
    const where = `package ${s.pkgidx}`;
    const area = db.subarray(s.blkoff * BLK_SIZE, (s.blkoff + s.blkcnt) * BLK_SIZE);
    if (area.length < BLOBHEAD_SIZE + BLOBTAIL_SIZE) throw bad(what, `${where}: blob of ${s.blkcnt} blocks`);
    if (area.readUInt32LE(0) !== BLOBHEAD_MAGIC) throw bad(what, `${where}: blob has no "BlbS" magic`);
    const headIdx = area.readUInt32LE(4);
    if (headIdx !== s.pkgidx) throw bad(what, `${where}: blob belongs to package ${headIdx}`);
    const bloblen = area.readUInt32LE(12);
    if (Math.ceil((BLOBHEAD_SIZE + bloblen + BLOBTAIL_SIZE) / BLK_SIZE) !== s.blkcnt)
      throw bad(what, `${where}: blob of ${bloblen} bytes in ${s.blkcnt} blocks`);
    const tailAt = area.length - BLOBTAIL_SIZE;
    if (area.readUInt32LE(tailAt + 8) !== BLOBTAIL_MAGIC)
      throw bad(what, `${where}: blob has no "BlbE" magic`);
    if (area.readUInt32LE(tailAt + 4) !== bloblen)
      throw bad(
        what,
        `${where}: blob length ${bloblen} in its head, ${area.readUInt32LE(tailAt + 4)} in its tail`,
      );
    const sum = adler32(area.subarray(0, tailAt));
    if (area.readUInt32LE(tailAt) !== sum) throw bad(what, `${where}: ADLER-32 mismatch`);
    const blob = area.subarray(BLOBHEAD_SIZE, BLOBHEAD_SIZE + bloblen);
    if (blob.length >= 4 && blob.readUInt32LE(0) === LZO_MAGIC)
      throw new OcipatchError(
        "UNSUPPORTED",
        `${what}: package ${s.pkgidx}: LZO-compressed NDB blobs (rpm built with RPMPKG_LZO) are not supported`,
      );
    records.push({ hnum: s.pkgidx, header: parseHeaderBlob(blob, `${what} (header ${s.pkgidx})`), blob });
  }
  return records.sort((a, b) => a.hnum - b.hnum);
}
