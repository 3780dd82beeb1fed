/**
 * An NDB `Packages.db` (SUSE's rpm database) as rpm's `lib/backend/ndb/rpmpkg.c` writes it,
 * filled with the REAL header blobs of a sqlite rpmdb made by dnf (nothing on this machine can
 * write NDB: Debian's rpm is built without it). The container is written by replaying rpm's own
 * steps, each named after the function it follows (rpm-software-management/rpm, rpmpkg.c):
 *
 * - rpmpkgInitInternal + rpmpkgWriteEmptySlotpage: slot page 0, every 16-byte slot "Slot" then
 *   zeros (the first two slots are the 32-byte database header), 1 slot page, nextpkgidx 1.
 * - rpmpkgWriteHeader: "RpmP", version 0, generation, slotnpages, nextpkgidx (little-endian u32).
 * - rpmpkgPutInternal: blkcnt = ceil((16 + len + 12) / 16); the blob goes to the first gap that
 *   fits between the slot pages and the other blobs, else at the end (rpmpkgFindEmptyOffset,
 *   best fit); the slot is the first free one; no free slot → rpmpkgAddSlotPage (blobs under
 *   the new page are moved to the end first, the page gets fresh "Slot" entries).
 * - rpmpkgWriteBlob: head "BlbS", pkgidx, generation, len; the blob; zero padding; tail
 *   ADLER-32 (head + blob + padding), len, "BlbE".
 * - rpmpkgWriteslot: "Slot", pkgidx, blkoff, blkcnt; every slot write bumps the generation.
 * - rpmpkgDelInternal: the slot rewritten as (0, 0, 0), the blob's blocks zeroed (rpmpkgZeroBlks);
 *   the file is not truncated here (rpm truncates only when the tail is 1/4 empty).
 *
 * NOT checked against a real rpm here (see README.md): it must be checked against the
 * Packages.db of a real SUSE image elsewhere.
 */
import { writeFileSync } from "node:fs";
import { adler32 } from "../../../src/backends/rpm/rpmdb-ndb.js";
import { openSqlite } from "../../../src/util/sqlite.js";

const SLOT_SIZE = 16;
const BLK_SIZE = 16;
const PAGE_SIZE = 4096;
const HEADER_SIZE = 32;

interface Slot {
  pkgidx: number;
  blkoff: number;
  blkcnt: number;
}

/** An NDB database being written in memory, one rpm operation at a time. */
export class NdbWriter {
  private buf = Buffer.alloc(0);
  private slotnpages = 0;
  private generation = 0;
  private nextpkgidx = 1;

  constructor() {
    this.emptySlotPage(0);
    this.slotnpages = 1;
    this.generation++;
    this.writeHeader();
  }

  private ensure(size: number): void {
    if (this.buf.length < size) this.buf = Buffer.concat([this.buf, Buffer.alloc(size - this.buf.length)]);
  }

  private emptySlotPage(page: number): void {
    this.ensure((page + 1) * PAGE_SIZE);
    const from = page === 0 ? HEADER_SIZE : 0;
    this.buf.fill(0, page * PAGE_SIZE + from, (page + 1) * PAGE_SIZE);
    for (let o = from; o < PAGE_SIZE; o += SLOT_SIZE) this.buf.write("Slot", page * PAGE_SIZE + o, "latin1");
  }

  private writeHeader(): void {
    this.buf.fill(0, 0, HEADER_SIZE);
    this.buf.write("RpmP", 0, "latin1");
    this.buf.writeUInt32LE(0, 4);
    this.buf.writeUInt32LE(this.generation >>> 0, 8);
    this.buf.writeUInt32LE(this.slotnpages, 12);
    this.buf.writeUInt32LE(this.nextpkgidx, 16);
  }

  /** Every slot: its number and contents (blkoff 0 = free). */
  private slots(): Array<Slot & { slotno: number }> {
    const out: Array<Slot & { slotno: number }> = [];
    for (let at = HEADER_SIZE; at < this.slotnpages * PAGE_SIZE; at += SLOT_SIZE)
      out.push({
        slotno: at / SLOT_SIZE,
        pkgidx: this.buf.readUInt32LE(at + 4),
        blkoff: this.buf.readUInt32LE(at + 8),
        blkcnt: this.buf.readUInt32LE(at + 12),
      });
    return out;
  }

  private writeSlot(slotno: number, s: Slot): void {
    const at = slotno * SLOT_SIZE;
    this.buf.write("Slot", at, "latin1");
    this.buf.writeUInt32LE(s.pkgidx, at + 4);
    this.buf.writeUInt32LE(s.blkoff, at + 8);
    this.buf.writeUInt32LE(s.blkcnt, at + 12);
    this.generation++;
    this.writeHeader();
  }

  private writeBlob(pkgidx: number, blkoff: number, blob: Buffer, generation: number): number {
    const blkcnt = Math.ceil((16 + blob.length + 12) / BLK_SIZE);
    const area = Buffer.alloc(blkcnt * BLK_SIZE);
    area.write("BlbS", 0, "latin1");
    area.writeUInt32LE(pkgidx, 4);
    area.writeUInt32LE(generation >>> 0, 8);
    area.writeUInt32LE(blob.length, 12);
    blob.copy(area, 16);
    const tail = area.length - 12;
    area.writeUInt32LE(adler32(area.subarray(0, tail)), tail);
    area.writeUInt32LE(blob.length, tail + 4);
    area.write("BlbE", tail + 8, "latin1");
    this.ensure((blkoff + blkcnt) * BLK_SIZE);
    area.copy(this.buf, blkoff * BLK_SIZE);
    return blkcnt;
  }

  /** rpmpkgFindEmptyOffset: best-fitting gap after `from`, else the end of the last blob. */
  private emptyOffset(blkcnt: number, dontprepend: boolean): number {
    const used = this.slots()
      .filter((s) => s.blkoff !== 0)
      .sort((a, b) => a.blkoff - b.blkoff);
    let last = this.slotnpages * (PAGE_SIZE / BLK_SIZE);
    if (dontprepend && used.length > 0) last = (used[0] as Slot).blkoff;
    let best = 0;
    let bestFree = 0;
    for (const s of used) {
      const free = s.blkoff - last;
      if (free >= blkcnt && (best === 0 || bestFree > free)) {
        best = last;
        bestFree = free;
      }
      last = s.blkoff + s.blkcnt;
    }
    return best === 0 ? last : best;
  }

  /** rpmpkgAddSlotPage: move the blobs under the new page to the end, then add the page. */
  private addSlotPage(): void {
    const cutoff = (this.slotnpages + 1) * (PAGE_SIZE / BLK_SIZE);
    for (;;) {
      const first = this.slots()
        .filter((s) => s.blkoff !== 0)
        .sort((a, b) => a.blkoff - b.blkoff)[0];
      if (first === undefined || first.blkoff >= cutoff) break;
      const area = this.buf.subarray(first.blkoff * BLK_SIZE, (first.blkoff + first.blkcnt) * BLK_SIZE);
      const len = area.readUInt32LE(12);
      const blob = Buffer.from(area.subarray(16, 16 + len));
      const gen = area.readUInt32LE(8);
      const to = this.emptyOffset(first.blkcnt, true);
      this.writeBlob(first.pkgidx, to, blob, gen);
      this.writeSlot(first.slotno, { pkgidx: first.pkgidx, blkoff: to, blkcnt: first.blkcnt });
      this.buf.fill(0, first.blkoff * BLK_SIZE, (first.blkoff + first.blkcnt) * BLK_SIZE);
    }
    this.emptySlotPage(this.slotnpages);
    this.slotnpages++;
    this.generation++;
    this.writeHeader();
  }

  /** rpmpkgPut of a new package (rpm's ndb_pkgdbPut with a number from rpmpkgNextPkgIdx). */
  put(blob: Buffer, pkgidx = this.nextpkgidx): number {
    const blkcnt = Math.ceil((16 + blob.length + 12) / BLK_SIZE);
    if (!this.slots().some((s) => s.blkoff === 0)) this.addSlotPage();
    const blkoff = this.emptyOffset(blkcnt, false);
    this.writeBlob(pkgidx, blkoff, blob, this.generation);
    if (pkgidx >= this.nextpkgidx) this.nextpkgidx = pkgidx + 1;
    const free = this.slots().find((s) => s.blkoff === 0) as { slotno: number };
    this.writeSlot(free.slotno, { pkgidx, blkoff, blkcnt });
    return pkgidx;
  }

  /** rpmpkgDel: the slot emptied, the blob's blocks zeroed. */
  del(pkgidx: number): void {
    const slot = this.slots().find((s) => s.blkoff !== 0 && s.pkgidx === pkgidx);
    if (slot === undefined) throw new Error(`package ${pkgidx} is not in the database`);
    this.writeSlot(slot.slotno, { pkgidx: 0, blkoff: 0, blkcnt: 0 });
    this.buf.fill(0, slot.blkoff * BLK_SIZE, (slot.blkoff + slot.blkcnt) * BLK_SIZE);
  }

  /** Where package `pkgidx`'s blob is (block offset and count), for tests that damage it. */
  slotOf(pkgidx: number): { slotno: number; blkoff: number; blkcnt: number } {
    const s = this.slots().find((x) => x.blkoff !== 0 && x.pkgidx === pkgidx);
    if (s === undefined) throw new Error(`package ${pkgidx} is not in the database`);
    return s;
  }

  bytes(): Buffer {
    return Buffer.from(this.buf);
  }
}

/** The header blobs of a sqlite rpmdb, by header number. */
export function sqliteHeaderBlobs(sqlitePath: string): Array<{ hnum: number; blob: Buffer }> {
  const db = openSqlite(sqlitePath, { readonly: true, fileMustExist: true });
  const rows = db.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum").all() as Array<{
    hnum: number;
    blob: ArrayBuffer | Uint8Array;
  }>;
  db.close();
  return rows.map((r) => ({
    hnum: r.hnum,
    blob: ArrayBuffer.isView(r.blob)
      ? Buffer.from(r.blob.buffer, r.blob.byteOffset, r.blob.byteLength)
      : Buffer.from(r.blob),
  }));
}

/**
 * `out` written from the headers of `sqlitePath`, each under its sqlite header number, in the
 * order given by `order` (default: by number); `copies` > 1 adds every header again under new
 * numbers (more slots than one slot page holds); `deleted` header numbers are put, then deleted.
 */
export function makeNdbPackages(
  sqlitePath: string,
  out: string,
  opts: { copies?: number; deleted?: readonly number[]; reverse?: boolean } = {},
): NdbWriter {
  const rows = sqliteHeaderBlobs(sqlitePath);
  const w = new NdbWriter();
  const ordered = opts.reverse ? [...rows].reverse() : rows;
  for (const r of ordered) w.put(r.blob, r.hnum);
  for (let c = 1; c < (opts.copies ?? 1); c++) for (const r of rows) w.put(r.blob);
  for (const d of opts.deleted ?? []) w.del(d);
  writeFileSync(out, w.bytes());
  return w;
}
