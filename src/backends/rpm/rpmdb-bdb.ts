import { OcipatchError } from "../../errors.js";
import { parseHeaderBlob } from "./header.js";
import type { RpmdbRecord } from "./rpmdb-sqlite.js";

/**
 * The Berkeley DB rpm database (`Packages`, a BDB hash database: RHEL/UBI 8, CentOS 7, Amazon
 * Linux 2), read-only, without libdb. Page 0 is the hash metadata page (magic 0x061561, page size,
 * last page number); hash pages hold key/data item pairs; the key is the header number (native
 * byte order), the data the header blob, stored on a chain of overflow pages when it does not fit
 * the page (always, for real headers) and inline otherwise. Every page number, offset and length
 * is checked against the file; overflow chains are followed at most once per page.
 */

const HASH_MAGIC = 0x061561;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;

function bad(what: string, msg: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${what}: invalid Berkeley DB rpm database: ${msg}`);
}

/** Whether `buf` starts like a Berkeley DB hash database (either byte order). */
export function isBdbHash(buf: Buffer): boolean {
  return buf.length >= 16 && (buf.readUInt32LE(12) === HASH_MAGIC || buf.readUInt32BE(12) === HASH_MAGIC);
}

/** Read every header of a Berkeley DB `Packages` file given as bytes; `what` names it in errors. */
export function readRpmdbBdb(db: Buffer, what: string): RpmdbRecord[] {
  if (db.length < 512) throw bad(what, `truncated (${db.length} bytes)`);
  let le: boolean;
  if (db.readUInt32LE(12) === HASH_MAGIC) le = true;
  else if (db.readUInt32BE(12) === HASH_MAGIC) le = false;
  else throw bad(what, "not a hash database (magic)");
  const u32 = (b: Buffer, at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const u16 = (b: Buffer, at: number): number => (le ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const pageSize = u32(db, 20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0)
    throw bad(what, `page size ${pageSize}`);
  if (db[24] !== 0) throw bad(what, "encrypted databases are not supported");
  if (db[25] !== P_HASHMETA) throw bad(what, `page 0 has type ${db[25]}, not hash metadata`);
  const lastPage = u32(db, 32);
  if (lastPage >= Math.floor(db.length / pageSize))
    throw bad(what, `truncated (${db.length} bytes for ${lastPage + 1} pages of ${pageSize})`);

  const page = (n: number): Buffer => db.subarray(n * pageSize, (n + 1) * pageSize);
  const usedOverflow = new Set<number>();

  /** The `tlen` bytes of an overflow chain starting at `first`. */
  const overflow = (first: number, tlen: number, where: string): Buffer => {
    if (tlen > db.length) throw bad(what, `${where}: item of ${tlen} bytes in a file of ${db.length}`);
    const out = Buffer.alloc(tlen);
    let got = 0;
    let n = first;
    while (got < tlen) {
      if (n === 0 || n > lastPage) throw bad(what, `${where}: overflow chain leads to page ${n}`);
      if (usedOverflow.has(n)) throw bad(what, `${where}: overflow page ${n} is used twice`);
      usedOverflow.add(n);
      const p = page(n);
      if (p[25] !== P_OVERFLOW) throw bad(what, `${where}: page ${n} is not an overflow page`);
      const len = u16(p, 22);
      if (len > pageSize - PAGE_HEADER || len > tlen - got)
        throw bad(what, `${where}: overflow page ${n} holds ${len} bytes`);
      if (len === 0) throw bad(what, `${where}: empty overflow page ${n}`);
      p.copy(out, got, PAGE_HEADER, PAGE_HEADER + len);
      got += len;
      n = u32(p, 16);
    }
    return out;
  };

  const records: RpmdbRecord[] = [];
  for (let n = 1; n <= lastPage; n++) {
    const p = page(n);
    const type = p[25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(p, 20);
    if (entries % 2 !== 0 || PAGE_HEADER + 2 * entries > pageSize)
      throw bad(what, `hash page ${n} has ${entries} entries`);
    // items are stored from the end of the page down: item i ends where item i-1 starts
    const item = (i: number): Buffer => {
      const start = u16(p, PAGE_HEADER + 2 * i);
      const end = i === 0 ? pageSize : u16(p, PAGE_HEADER + 2 * (i - 1));
      if (start < PAGE_HEADER + 2 * entries || start >= end || end > pageSize)
        throw bad(what, `hash page ${n} item ${i} at ${start}..${end}`);
      return p.subarray(start, end);
    };
    for (let i = 0; i < entries; i += 2) {
      const key = item(i);
      const data = item(i + 1);
      if (key[0] !== H_KEYDATA || key.length !== 5)
        throw bad(what, `hash page ${n}: key ${i / 2} is not a header number`);
      const hnum = u32(key, 1);
      const where = `page ${n} key ${hnum}`;
      let blob: Buffer;
      switch (data[0]) {
        case H_KEYDATA:
          blob = data.subarray(1);
          break;
        case H_OFFPAGE:
          if (data.length < 12) throw bad(what, `${where}: short off-page item`);
          blob = overflow(u32(data, 4), u32(data, 8), where);
          break;
        case H_DUPLICATE:
        case H_OFFDUP:
          throw bad(what, `${where}: duplicate data items`);
        default:
          throw bad(what, `${where}: item type ${data[0]}`);
      }
      // record 0 is rpm's counter of header numbers, not a header
      if (hnum === 0) continue;
      records.push({ hnum, header: parseHeaderBlob(blob, `${what} (header ${hnum})`), blob });
    }
  }
  return records.sort((a, b) => a.hnum - b.hnum);
}
