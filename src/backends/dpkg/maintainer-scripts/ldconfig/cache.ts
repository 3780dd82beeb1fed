import { OcipatchError } from "../../../../errors.js";
import { dlCacheLibcmp } from "./libcmp.js";

/*
 * /etc/ld.so.cache in the "new" format only ("glibc-ld.so.cache1.1"), as
 * glibc's elf/cache.c save_cache writes it on little-endian hosts:
 *
 * - "2.36": glibc 2.36 and later (bookworm 2.36, noble 2.39): the string table
 *   is built with tail merging (elf/stringtable.c: sorted by reversed string,
 *   suffixes shared), the osversion field is 0, and an extension directory with
 *   the generator string follows, 4-aligned.
 * - "2.33": glibc 2.33 to 2.35 (Ubuntu jammy 2.35): the same, but the GNU ABI
 *   tag of each library is still kept in the osversion field.
 * - "2.31": Debian bullseye's 2.31 (new format by default, endianness flag):
 *   strings written in entry order (soname then path), osversion kept, no
 *   extensions.
 *
 * Entries are kept in the order add_to_cache builds: sorted by
 * `_dl_cache_libcmp` of the soname, descending, then flags descending
 * (then osversion before 2.36), equal keys in insertion order.
 */

export type CacheFlavour = "2.31" | "2.33" | "2.36";

/** Does this glibc keep the ABI tag (osversion) in its cache entries? */
const keepsOsversion = (f: CacheFlavour) => f !== "2.36";

export interface CacheEntry {
  readonly soname: string;
  /** `DIR/SONAME` as ldconfig writes it. */
  readonly path: string;
  readonly flags: number;
  readonly osversion: number;
}

const MAGIC = "glibc-ld.so.cache";
const VERSION = "1.1";
const HEADER = 48;
const ENTRY = 24;
const FLAGS_LITTLE_ENDIAN = 2;
const EXTENSION_MAGIC = 0xeaa42174;
const TAG_GENERATOR = 0;

function compare(flavour: CacheFlavour, e1: CacheEntry, e2: CacheEntry): number {
  const res = dlCacheLibcmp(Buffer.from(e2.soname, "latin1"), Buffer.from(e1.soname, "latin1"));
  if (res !== 0) return res;
  if (e1.flags < e2.flags) return 1;
  if (e1.flags > e2.flags) return -1;
  if (keepsOsversion(flavour)) {
    if (e2.osversion > e1.osversion) return 1;
    if (e2.osversion < e1.osversion) return -1;
  }
  return 0;
}

/** The list as add_to_cache leaves it: each new entry goes before the first one that sorts after it. */
export function sortEntries(flavour: CacheFlavour, added: readonly CacheEntry[]): CacheEntry[] {
  const out: CacheEntry[] = [];
  for (const e of added) {
    let i = 0;
    while (i < out.length && compare(flavour, out[i]!, e) <= 0) i++;
    out.splice(i, 0, e);
  }
  return out;
}

/** stringtable_finalize: the string bytes and each string's offset. */
export function finalizeStrings(strings: Iterable<string>): { table: Buffer; offsets: Map<string, number> } {
  const uniq = [...new Set(strings)].map((s) => Buffer.from(s, "latin1"));
  const offsets = new Map<string, number>();
  if (uniq.length === 0) return { table: Buffer.alloc(0), offsets };
  // qsort order: reversed strings in reverse lexicographic order, longer first on a shared suffix
  uniq.sort((l, r) => {
    const n = Math.min(l.length, r.length);
    for (let i = 1; i <= n; i++) {
      const a = l[l.length - i]!;
      const b = r[r.length - i]!;
      if (a !== b) return b - a;
    }
    return r.length - l.length;
  });
  const off: number[] = [0];
  for (let j = 1; j < uniq.length; j++) {
    const prev = uniq[j - 1]!;
    const cur = uniq[j]!;
    if (prev.length >= cur.length && prev.subarray(prev.length - cur.length).equals(cur)) {
      off.push(off[j - 1]! + prev.length - cur.length);
    } else {
      off.push(off[j - 1]! + prev.length + 1);
    }
  }
  const last = uniq.length - 1;
  const table = Buffer.alloc(off[last]! + uniq[last]!.length + 1);
  for (let j = 0; j < uniq.length; j++) {
    uniq[j]!.copy(table, off[j]!);
    offsets.set(uniq[j]!.toString("latin1"), off[j]!);
  }

  return { table, offsets };
}

/** The bytes of /etc/ld.so.cache for entries already in cache order. */
export function writeCache(
  flavour: CacheFlavour,
  entries: readonly CacheEntry[],
  generator?: string,
): Buffer {
  const n = entries.length;
  const entriesEnd = HEADER + n * ENTRY;
  let table: Buffer;
  const keys: Array<[number, number]> = [];
  if (flavour !== "2.31") {
    const all: string[] = [];
    for (const e of entries) all.push(e.path, e.soname);
    const fin = finalizeStrings(all);
    table = fin.table;
    for (const e of entries) keys.push([fin.offsets.get(e.soname)!, fin.offsets.get(e.path)!]);
  } else {
    const parts: Buffer[] = [];
    let at = 0;
    for (const e of entries) {
      const lib = Buffer.from(`${e.soname}\0`, "latin1");
      const path = Buffer.from(`${e.path}\0`, "latin1");
      keys.push([at, at + lib.length]);
      at += lib.length + path.length;
      parts.push(lib, path);
    }
    table = Buffer.concat(parts);
  }
  if (entriesEnd + table.length > 0xffffffff)
    throw new OcipatchError("UNSUPPORTED", "ld.so.cache would exceed 4 GiB");
  let extension: Buffer | undefined;
  let extensionOffset = 0;
  if (flavour !== "2.31") {
    const gen = Buffer.from(generator ?? "", "latin1");
    extensionOffset = (entriesEnd + table.length + 3) & ~3;
    extension = Buffer.alloc(8 + 16 + gen.length);
    extension.writeUInt32LE(EXTENSION_MAGIC, 0);
    extension.writeUInt32LE(1, 4);
    extension.writeUInt32LE(TAG_GENERATOR, 8);
    extension.writeUInt32LE(0, 12);
    extension.writeUInt32LE(extensionOffset + 24, 16);
    extension.writeUInt32LE(gen.length, 20);
    gen.copy(extension, 24);
  }
  const size = extension ? extensionOffset + extension.length : entriesEnd + table.length;
  const out = Buffer.alloc(size);
  out.write(MAGIC, 0, "latin1");
  out.write(VERSION, MAGIC.length, "latin1");
  out.writeUInt32LE(n, 20);
  out.writeUInt32LE(table.length, 24);
  out[28] = FLAGS_LITTLE_ENDIAN;
  out.writeUInt32LE(extensionOffset, 32);
  entries.forEach((e, i) => {
    const at = HEADER + i * ENTRY;
    const [key, value] = keys[i]!;
    out.writeInt32LE(e.flags, at);
    out.writeUInt32LE(entriesEnd + key, at + 4);
    out.writeUInt32LE(entriesEnd + value, at + 8);
    out.writeUInt32LE(keepsOsversion(flavour) ? e.osversion : 0, at + 12);
    out.writeBigUInt64LE(0n, at + 16);
  });
  table.copy(out, entriesEnd);
  if (extension) extension.copy(out, extensionOffset);
  return out;
}

/** What an existing cache says about itself (bounded; undefined when it is not a new-format cache). */
interface CacheInfo {
  readonly entries: CacheEntry[];
  readonly generator: string | undefined;
  readonly hasExtensions: boolean;
  /** Entries with a hwcap value (glibc-hwcaps subdirectories). */
  readonly hwcapEntries: number;
}

export function readCache(buf: Buffer): CacheInfo | undefined {
  if (buf.length < HEADER || buf.toString("latin1", 0, 20) !== MAGIC + VERSION) return undefined;
  const n = buf.readUInt32LE(20);
  if (n > (buf.length - HEADER) / ENTRY) return undefined;
  const str = (off: number) => {
    if (off >= buf.length) return undefined;
    const end = buf.indexOf(0, off);
    return end < 0 ? undefined : buf.toString("latin1", off, end);
  };
  const entries: CacheEntry[] = [];
  let hwcapEntries = 0;
  for (let i = 0; i < n; i++) {
    const at = HEADER + i * ENTRY;
    const soname = str(buf.readUInt32LE(at + 4));
    const path = str(buf.readUInt32LE(at + 8));
    if (soname === undefined || path === undefined) return undefined;
    if (buf.readBigUInt64LE(at + 16) !== 0n) hwcapEntries++;
    entries.push({ soname, path, flags: buf.readInt32LE(at), osversion: buf.readUInt32LE(at + 12) });
  }
  const extOff = buf.readUInt32LE(32);
  let generator: string | undefined;
  let hasExtensions = false;
  if (extOff !== 0 && extOff + 8 <= buf.length && buf.readUInt32LE(extOff) === EXTENSION_MAGIC) {
    hasExtensions = true;
    const count = buf.readUInt32LE(extOff + 4);
    for (let i = 0; i < count && extOff + 8 + 16 * (i + 1) <= buf.length && i < 64; i++) {
      const s = extOff + 8 + 16 * i;
      if (buf.readUInt32LE(s) !== TAG_GENERATOR) continue;
      const off = buf.readUInt32LE(s + 8);
      const len = buf.readUInt32LE(s + 12);
      if (off + len <= buf.length) generator = buf.toString("latin1", off, off + len);
    }
  }
  return { entries, generator, hasExtensions, hwcapEntries };
}
