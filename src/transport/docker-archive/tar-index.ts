import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { posix } from "node:path";
import { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { OpenOptions } from "../../image/image.js";
import { blobReadOptions } from "../../image/local-blob.js";
import { openRegularFile } from "../../util/regular-file.js";
import { ioError } from "../atomic-fs.js";

/**
 * A random-access index of a tar file: entry name → where its data lies.
 *
 * Why not tar-stream here: its extractor only streams (every byte of every entry
 * passes through it, so indexing a multi-GB `docker save` archive would read it
 * all) and it exposes neither entry offsets nor its header decoder. Indexing only
 * needs the 512-byte headers, so we read those (ustar/GNU/pax, the parts that
 * locate data) and seek over the data; entries are then served as byte ranges.
 */

type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

interface TarEntry {
  /** Normalised path (no leading `./` or `/`). */
  readonly name: string;
  readonly type: TarEntryType;
  /** Offset of the entry's data in the tar file. */
  readonly offset: number;
  readonly size: number;
  /** Target of a symlink or hard link. */
  readonly linkname: string;
}

const BLOCK = 512;
const MAX_EXTENDED_HEADER = 1024 * 1024;
const MAX_LINK_DEPTH = 16;

/** Normalise an archive path: `./a//b/` → `a/b` (`..` cannot climb above the archive root); `undefined` for the root. */
export function normalizeTarPath(p: string): string | undefined {
  const n = posix.normalize(`/${p}`).replace(/^\/+/, "").replace(/\/+$/, "");
  return n === "" || n === "." ? undefined : n;
}

function cString(b: Buffer, start: number, len: number): string {
  const slice = b.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return (nul === -1 ? slice : slice.subarray(0, nul)).toString("utf8");
}

/** A numeric header field: octal ASCII, or GNU base-256 when the top bit is set. */
function numeric(b: Buffer, start: number, len: number, what: string): number {
  const first = b[start]!;
  if (first & 0x80) {
    if (first === 0xff) throw new OcipatchError("INVALID_FORMAT", `${what}: negative number in tar header`);
    let v = first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i]!;
    if (!Number.isSafeInteger(v)) throw new OcipatchError("INVALID_FORMAT", `${what}: number too large`);
    return v;
  }
  const s = cString(b, start, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new OcipatchError("INVALID_FORMAT", `${what}: invalid number "${s}" in tar header`);
  return Number.parseInt(s, 8);
}

/** Whether a header's checksum field holds its checksum; a field that is no number does not. */
function checksumOk(h: Buffer): boolean {
  let stored: number;
  try {
    stored = numeric(h, 148, 8, "tar header checksum");
  } catch {
    return false; // not a tar header (e.g. compressed data): the caller names the file
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

/** Magic numbers of the compressed files an archive is often mistaken for. */
const COMPRESSED_MAGIC: ReadonlyArray<[string, Buffer]> = [
  ["gzip", Buffer.from([0x1f, 0x8b])],
  ["zstd", Buffer.from([0x28, 0xb5, 0x2f, 0xfd])],
  ["xz", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])],
];

function compressionOfStart(b: Buffer): string | undefined {
  return COMPRESSED_MAGIC.find(([, magic]) => b.subarray(0, magic.length).equals(magic))?.[0];
}

/** Parse pax records (`<len> key=value\n`). */
export function parsePaxRecords(data: Buffer, what: string): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding
    const space = data.indexOf(0x20, pos);
    const len = space === -1 ? Number.NaN : Number.parseInt(data.subarray(pos, space).toString("ascii"), 10);
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw new OcipatchError("INVALID_FORMAT", `${what}: malformed pax extended header`);
    }
    const record = data.subarray(space + 1, pos + len - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case "0":
    case "\0":
    case "":
    case "7":
      return "file";
    case "5":
      return "directory";
    case "2":
      return "symlink";
    case "1":
      return "hardlink";
    default:
      return "other";
  }
}

export class TarIndex {
  private constructor(
    readonly file: string,
    private readonly entries: Map<string, TarEntry>,
  ) {}

  /**
   * Read every header of `file` (seeking over data) and index the entries; `what` names the
   * kind of archive in messages.
   */
  static async open(file: string, what = "docker archive"): Promise<TarIndex> {
    let fh: FileHandle;
    try {
      // a regular file only: a FIFO is refused without blocking, a device is not read
      fh = await openRegularFile(file, { what });
    } catch (e) {
      if (isOcipatchError(e, "NOT_FOUND")) {
        throw new OcipatchError("NOT_FOUND", `${what} ${file} does not exist`, { cause: e });
      }
      throw e;
    }
    try {
      return new TarIndex(file, await readHeaders(fh, file));
    } finally {
      await fh.close();
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.resolve(name) !== undefined;
  }

  /** The regular-file entry at `name`, following symlinks and hard links inside the archive. */
  resolve(name: string): TarEntry | undefined {
    let n = normalizeTarPath(name);
    for (let depth = 0; n !== undefined && depth < MAX_LINK_DEPTH; depth++) {
      const e = this.entries.get(n);
      if (!e) return undefined;
      if (e.type === "file") return e;
      if (e.type === "symlink") {
        n = normalizeTarPath(posix.join(posix.dirname(n), e.linkname));
      } else if (e.type === "hardlink") {
        n = normalizeTarPath(e.linkname);
      } else {
        return undefined;
      }
    }
    return undefined;
  }

  entry(name: string): TarEntry {
    const e = this.resolve(name);
    if (!e) throw new OcipatchError("NOT_FOUND", `${name} not found in ${this.file}`);
    return e;
  }

  /** Read an entry whole (small entries: manifest.json, configs). */
  async read(name: string, limit = 64 * 1024 * 1024): Promise<Buffer> {
    const e = this.entry(name);
    if (e.size > limit) throw new OcipatchError("INVALID_FORMAT", `${name} in ${this.file} is too large`);
    const buf = Buffer.alloc(e.size);
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.file, "r");
      const { bytesRead } = await fh.read(buf, 0, e.size, e.offset);
      if (bytesRead !== e.size) throw new OcipatchError("INVALID_FORMAT", `${this.file} is truncated`);
      return buf;
    } catch (err) {
      throw ioError(`cannot read ${name} from ${this.file}`, err);
    } finally {
      await fh?.close();
    }
  }

  /** Stream an entry's bytes. */
  stream(name: string, opts?: OpenOptions): Readable {
    const e = this.entry(name);
    if (e.size === 0) return Readable.from([]);
    return createReadStream(this.file, {
      ...blobReadOptions(opts?.signal),
      start: e.offset,
      end: e.offset + e.size - 1,
    });
  }

  /** The first `n` bytes of an entry (for sniffing compression). */
  async head(name: string, n: number): Promise<Buffer> {
    const e = this.entry(name);
    const len = Math.min(n, e.size);
    const buf = Buffer.alloc(len);
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.file, "r");
      await fh.read(buf, 0, len, e.offset);
      return buf;
    } catch (err) {
      throw ioError(`cannot read ${name} from ${this.file}`, err);
    } finally {
      await fh?.close();
    }
  }
}

async function readHeaders(fh: FileHandle, file: string): Promise<Map<string, TarEntry>> {
  const fileSize = (await fh.stat()).size;
  const entries = new Map<string, TarEntry>();
  const header = Buffer.alloc(BLOCK);
  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Map<string, string> | undefined;
  const readData = async (offset: number, size: number, kind: string): Promise<Buffer> => {
    if (size > MAX_EXTENDED_HEADER) {
      throw new OcipatchError("INVALID_FORMAT", `${file}: ${kind} header of ${size} bytes is too large`);
    }
    const b = Buffer.alloc(size);
    const { bytesRead } = await fh.read(b, 0, size, offset);
    if (bytesRead !== size) throw new OcipatchError("INVALID_FORMAT", `${file} is truncated`);
    return b;
  };
  for (;;) {
    const { bytesRead } = await fh.read(header, 0, BLOCK, pos);
    if (bytesRead === 0) break; // no end-of-archive marker: accept, as GNU tar does
    const compressed = pos === 0 ? compressionOfStart(header.subarray(0, bytesRead)) : undefined;
    if (compressed) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${file} is not a tar archive (${compressed}-compressed; decompress it first)`,
      );
    }
    if (bytesRead < BLOCK)
      throw new OcipatchError("INVALID_FORMAT", `${file} is truncated (partial tar header)`);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    if (!checksumOk(header)) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${file} is not a tar archive (bad header checksum at offset ${pos})`,
      );
    }
    const flag = String.fromCharCode(header[156]!);
    let size = numeric(header, 124, 12, file);
    const dataOffset = pos + BLOCK;
    if (flag === "x" || flag === "L" || flag === "K" || flag === "g") {
      const data = await readData(dataOffset, size, flag === "x" || flag === "g" ? "pax" : "GNU long name");
      if (flag === "x") pax = parsePaxRecords(data, file);
      else if (flag === "L") longName = cString(data, 0, data.length);
      else if (flag === "K") longLink = cString(data, 0, data.length);
      // global pax headers ("g") carry defaults such as charset/mtime, nothing that locates data
      pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      continue;
    }
    const paxSize = pax?.get("size");
    if (paxSize !== undefined) {
      if (!/^\d+$/.test(paxSize)) throw new OcipatchError("INVALID_FORMAT", `${file}: invalid pax size`);
      size = Number(paxSize);
    }
    let name = cString(header, 0, 100);
    const magic = header.subarray(257, 263).toString("latin1");
    if (magic === "ustar\0") {
      const prefix = cString(header, 345, 155);
      if (prefix !== "") name = `${prefix}/${name}`;
    }
    name = pax?.get("path") ?? longName ?? name;
    const linkname = pax?.get("linkpath") ?? longLink ?? cString(header, 157, 100);
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    const type = entryType(flag);
    const dataSize = type === "file" ? size : type === "other" ? size : 0;
    if (dataOffset + dataSize > fileSize) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${file} is truncated (entry ${name} ends past the end of the file)`,
      );
    }
    const norm = normalizeTarPath(name);
    if (norm !== undefined) entries.set(norm, { name: norm, type, offset: dataOffset, size, linkname });
    pos = dataOffset + Math.ceil(dataSize / BLOCK) * BLOCK;
  }
  return entries;
}
