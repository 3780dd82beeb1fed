/**
 * The two container formats of apk v2 files (apk-v2(5)): a file is a concatenation of gzip
 * members ("streams"), each holding a tar segment. Signatures and checksums are computed over
 * the COMPRESSED bytes of one member, so the members are split at their exact byte boundaries.
 */
import { crc32, inflateRawSync } from "node:zlib";
import { OcipatchError } from "../../errors.js";

/** Bound on what one member may inflate to (index and package members alike). */
const MAX_MEMBER_BYTES = 512 * 1024 * 1024;

interface GzipMember {
  /** The member's bytes exactly as stored (header, deflate data, trailer). */
  readonly raw: Buffer;
  /** Its decompressed content. */
  readonly data: Buffer;
}

function bad(source: string, what: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${source}: ${what}`);
}

/** Split concatenated gzip members; CRC-32 and size of each are checked. */
export function splitGzipMembers(buf: Buffer, source: string, maxBytes = MAX_MEMBER_BYTES): GzipMember[] {
  const members: GzipMember[] = [];
  let off = 0;
  while (off < buf.length) {
    const start = off;
    if (buf.length - off < 18 || buf[off] !== 0x1f || buf[off + 1] !== 0x8b || buf[off + 2] !== 8)
      throw bad(source, `gzip member ${members.length + 1} at byte ${start}: not a gzip stream`);
    const flags = buf[off + 3] ?? 0;
    off += 10;
    if (flags & 4) off += 2 + buf.readUInt16LE(off);
    for (const bit of [8, 16]) {
      if (!(flags & bit)) continue;
      const nul = buf.indexOf(0, off);
      if (nul < 0) throw bad(source, `gzip member ${members.length + 1}: truncated header`);
      off = nul + 1;
    }
    if (flags & 2) off += 2;
    let out: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      out = inflateRawSync(buf.subarray(off), {
        info: true,
        maxOutputLength: maxBytes,
      }) as unknown as typeof out;
    } catch (e) {
      throw bad(source, `gzip member ${members.length + 1}: ${(e as Error).message}`);
    }
    off += out.engine.bytesWritten;
    if (off + 8 > buf.length) throw bad(source, `gzip member ${members.length + 1}: truncated trailer`);
    const crc = buf.readUInt32LE(off);
    const isize = buf.readUInt32LE(off + 4);
    off += 8;
    if (crc32(out.buffer) !== crc || (out.buffer.length & 0xffffffff) >>> 0 !== isize)
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `${source}: gzip member ${members.length + 1}: CRC-32 or length does not match its content`,
      );
    members.push({ raw: buf.subarray(start, off), data: out.buffer });
  }
  return members;
}

export type TarEntryType =
  | "file"
  | "hardlink"
  | "symlink"
  | "char-device"
  | "block-device"
  | "directory"
  | "fifo";

export interface TarEntry {
  /** Path as stored (after PAX/GNU long names), e.g. "usr/bin/foo" or "etc/". */
  readonly name: string;
  readonly type: TarEntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  /** PAX extended header records of this entry (e.g. APK-TOOLS.checksum.SHA1). */
  readonly pax: Readonly<Record<string, string>>;
  readonly data: Buffer;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char-device",
  "4": "block-device",
  "5": "directory",
  "6": "fifo",
};

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return (nul < 0 ? s : s.subarray(0, nul)).toString("utf8");
}

function octal(b: Buffer, off: number, len: number, source: string, field: string): number {
  const s = str(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(source, `tar header: bad ${field} "${s}"`);
  return Number.parseInt(s, 8);
}

function parsePax(data: Buffer, source: string): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    const len = sp < 0 ? Number.NaN : Number(data.subarray(off, sp).toString("ascii"));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length)
      throw bad(source, "malformed PAX header");
    const rec = data.subarray(sp + 1, off + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq < 0) throw bad(source, "malformed PAX header record");
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

/**
 * Read a tar segment or a whole tarball (apk's signature and control segments have no
 * end-of-archive blocks; data tarballs do). Header checksums are checked.
 */
export function readTar(buf: Buffer, source: string): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const stored = octal(h, 148, 8, source, "checksum");
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
    if (sum !== stored) throw bad(source, `tar header at byte ${off}: checksum mismatch`);
    const size = octal(h, 124, 12, source, "size");
    const flag = String.fromCharCode(h[156] ?? 0);
    const dataStart = off + 512;
    if (dataStart + size > buf.length) throw bad(source, `tar entry at byte ${off}: truncated`);
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (flag === "x") {
      pax = { ...pax, ...parsePax(data, source) };
      continue;
    }
    if (flag === "g") continue;
    if (flag === "L" || flag === "K") {
      const v = str(data, 0, data.length);
      if (flag === "L") longName = v;
      else longLink = v;
      continue;
    }
    const type = TYPES[flag];
    if (!type) throw bad(source, `tar entry at byte ${off}: unsupported type "${flag}"`);
    const prefix = str(h, 257, 6).startsWith("ustar") ? str(h, 345, 155) : "";
    const baseName = str(h, 0, 100);
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${baseName}` : baseName);
    entries.push({
      name,
      type,
      mode: octal(h, 100, 8, source, "mode") & 0o7777,
      uid: pax.uid !== undefined ? Number(pax.uid) : octal(h, 108, 8, source, "uid"),
      gid: pax.gid !== undefined ? Number(pax.gid) : octal(h, 116, 8, source, "gid"),
      size,
      mtime: octal(h, 136, 12, source, "mtime"),
      linkname: pax.linkpath ?? longLink ?? str(h, 157, 100),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      pax,
      data,
    });
    pax = {};
    longName = undefined;
    longLink = undefined;
  }
  return entries;
}
