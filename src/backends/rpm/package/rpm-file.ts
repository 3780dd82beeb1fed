import { createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream";
import { OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { xzDecompressor } from "../../../util/xz.js";
import { zstdDecompressor } from "../../../util/zstd.js";
import {
  headerFromTags,
  MAX_DATA_BYTES,
  MAX_INDEX_ENTRIES,
  type RpmHeader,
  readHeaderTags,
  type TagValue,
} from "../header.js";

/**
 * A .rpm package file: the 96-byte lead, the signature header (padded to a multiple of 8), the
 * main header and the compressed payload (a cpio archive). Only the three headers are read into
 * memory, each bounds-checked against rpm's limits and the file's size before it is read; the
 * payload is streamed from its offset.
 */

/** Tags of the signature header (rpmtag.h, RPMSIGTAG_*). */
export const SIGTAG = {
  DSAHEADER: 267,
  RSAHEADER: 268,
  SHA1HEADER: 269,
  SHA256HEADER: 273,
  SIZE: 1000,
  PGP: 1002,
  MD5: 1004,
  GPG: 1005,
  PAYLOADSIZE: 1007,
} as const;

/** Main-header tags about the payload. */
export const PAYLOAD_TAG = {
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  PAYLOADDIGEST: 5092,
  PAYLOADDIGESTALGO: 5093,
} as const;

export const LEAD_SIZE = 96;
const HEADER_MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);
const LEAD_MAGIC = Buffer.from([0xed, 0xab, 0xee, 0xdb]);
/** RPMSIGTYPE_HEADERSIG: the only signature type rpm has written since version 3. */
const HEADERSIG_TYPE = 5;

export interface RpmLead {
  readonly major: number;
  readonly minor: number;
  /** 0 binary, 1 source. */
  readonly type: number;
  /** NEVR as the builder wrote it (informational: rpm ignores it). */
  readonly name: string;
}

export type PayloadCompressor = "none" | "gzip" | "xz" | "lzma" | "zstd";

export interface RpmPackageFile {
  readonly path: string;
  readonly lead: RpmLead;
  /** The signature header's tags (digests and signatures). */
  readonly signature: ReadonlyMap<number, TagValue>;
  readonly header: RpmHeader;
  /** The main header exactly as in the file, magic included: what its digests and signatures cover. */
  readonly headerBytes: Buffer;
  readonly payloadOffset: number;
  /** Bytes of the compressed payload (to the end of the file). */
  readonly payloadSize: number;
  readonly payloadCompressor: PayloadCompressor;
}

function bad(path: string, msg: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${path}: invalid rpm package: ${msg}`);
}

async function readAt(
  fh: FileHandle,
  offset: number,
  length: number,
  size: number,
  path: string,
): Promise<Buffer> {
  if (offset + length > size) throw bad(path, `truncated (${size} bytes, needs ${offset + length})`);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  if (bytesRead !== length) throw bad(path, `truncated at byte ${offset + bytesRead}`);
  return buf;
}

/** Read one header (magic, il, dl, index, data) at `offset`; its bytes and parsed tags. */
async function readHeaderAt(
  fh: FileHandle,
  offset: number,
  size: number,
  path: string,
  what: string,
): Promise<{ bytes: Buffer; tags: Map<number, TagValue> }> {
  const intro = await readAt(fh, offset, 16, size, path);
  if (!intro.subarray(0, 4).equals(HEADER_MAGIC)) throw bad(path, `${what} has no header magic`);
  const il = intro.readUInt32BE(8);
  const dl = intro.readUInt32BE(12);
  if (il < 1 || il > MAX_INDEX_ENTRIES) throw bad(path, `${what} has ${il} index entries`);
  if (dl > MAX_DATA_BYTES) throw bad(path, `${what} has ${dl} data bytes`);
  const bytes = await readAt(fh, offset, 16 + il * 16 + dl, size, path);
  const { tags } = readHeaderTags(bytes, `${path} (${what})`, { magic: true, exact: true });
  return { bytes, tags };
}

function compressorOf(tags: ReadonlyMap<number, TagValue>, path: string): PayloadCompressor {
  const v = tags.get(PAYLOAD_TAG.PAYLOADCOMPRESSOR);
  // rpm's default when the tag is absent
  if (v === undefined) return "gzip";
  if (v.type !== "string" || v.values.length !== 1) throw bad(path, "PAYLOADCOMPRESSOR is not a string");
  const c = v.values[0]!;
  switch (c) {
    case "gzip":
    case "xz":
    case "lzma":
    case "zstd":
      return c;
    case "identity":
      return "none";
    default:
      throw new OcipatchError("UNSUPPORTED", `${path}: rpm payload compressor "${c}" is not supported`);
  }
}

/** Read the lead and headers of the package file at `path`. */
export async function readRpmFile(path: string): Promise<RpmPackageFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new OcipatchError(
      code === "ENOENT" ? "NOT_FOUND" : "IO",
      `${path}: cannot open rpm package: ${code ?? (e as Error).message}`,
      { cause: e },
    );
  }
  try {
    const size = (await fh.stat()).size;
    const leadBytes = await readAt(fh, 0, LEAD_SIZE, size, path);
    if (!leadBytes.subarray(0, 4).equals(LEAD_MAGIC)) throw bad(path, "no rpm lead magic");
    const nameEnd = leadBytes.indexOf(0, 10);
    const lead: RpmLead = {
      major: leadBytes[4]!,
      minor: leadBytes[5]!,
      type: leadBytes.readUInt16BE(6),
      name: leadBytes.toString("utf8", 10, nameEnd < 0 || nameEnd > 76 ? 76 : nameEnd),
    };
    if (lead.major < 3)
      throw new OcipatchError("UNSUPPORTED", `${path}: rpm format version ${lead.major} is not supported`);
    const sigType = leadBytes.readUInt16BE(78);
    if (sigType !== HEADERSIG_TYPE) throw bad(path, `lead signature type ${sigType}`);
    const sig = await readHeaderAt(fh, LEAD_SIZE, size, path, "signature header");
    const headerOffset = LEAD_SIZE + sig.bytes.length + ((8 - (sig.bytes.length % 8)) % 8);
    const main = await readHeaderAt(fh, headerOffset, size, path, "header");
    const header = headerFromTags(main.tags, path);
    const format = main.tags.get(PAYLOAD_TAG.PAYLOADFORMAT);
    if (format !== undefined && !(format.type === "string" && format.values[0] === "cpio"))
      throw new OcipatchError("UNSUPPORTED", `${path}: rpm payload format is not cpio`);
    const payloadOffset = headerOffset + main.bytes.length;
    return {
      path,
      lead,
      signature: sig.tags,
      header,
      headerBytes: main.bytes,
      payloadOffset,
      payloadSize: size - payloadOffset,
      payloadCompressor: compressorOf(main.tags, path),
    };
  } finally {
    await fh.close();
  }
}

/** The compressed payload bytes, streamed from the file. */
export function compressedPayload(pkg: RpmPackageFile): Readable {
  return createReadStream(pkg.path, { start: pkg.payloadOffset });
}

/** A streaming decompressor for a payload compressor; undefined for "none". */
function payloadDecompressor(c: PayloadCompressor, what: string, size: number): Transform | undefined {
  switch (c) {
    case "none":
      return undefined;
    case "gzip":
      return gunzipStream();
    case "zstd":
      return zstdDecompressor(what, size);
    case "xz":
    case "lzma":
      return xzDecompressor(c, what);
  }
}

/**
 * The decompressed payload (a cpio archive) of `source` (default: the file's compressed payload).
 * Decompression errors are INVALID_FORMAT naming the package.
 */
export function payloadStream(pkg: RpmPackageFile, source: Readable = compressedPayload(pkg)): Readable {
  const what = `${pkg.path}: rpm payload`;
  const d = payloadDecompressor(pkg.payloadCompressor, what, pkg.payloadSize);
  if (d === undefined) return source;
  return pipeline(source, d, (err) => {
    if (err && !d.destroyed) d.destroy(err);
  }) as unknown as Readable;
}
