import { OcipatchError } from "../../errors.js";

/**
 * RPM header blobs: the tagged records rpm keeps in its database and at the front of every
 * package. A blob is `il` (index entries) and `dl` (data bytes), both big-endian u32, then `il`
 * 16-byte entries (tag, type, offset, count) and the data store they point into; in a package
 * file it is preceded by the magic `8e ad e8 01` and four reserved bytes. Every count, offset
 * and string is bounds-checked against the blob before it is read, so a truncated or hostile
 * blob is one INVALID_FORMAT error and allocations never exceed the blob's own size.
 */

/** Tag numbers (rpmtag.h) this backend reads. */
export const TAG = {
  HEADERIMMUTABLE: 63,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  INSTALLTIME: 1008,
  SIZE: 1009,
  LICENSE: 1014,
  OLDFILENAMES: 1027,
  FILESIZES: 1028,
  FILEMODES: 1030,
  FILEDIGESTS: 1035,
  FILELINKTOS: 1036,
  FILEFLAGS: 1037,
  FILEUSERNAME: 1039,
  FILEGROUPNAME: 1040,
  ARCH: 1022,
  SOURCERPM: 1044,
  PROVIDENAME: 1047,
  REQUIREFLAGS: 1048,
  REQUIRENAME: 1049,
  REQUIREVERSION: 1050,
  CONFLICTFLAGS: 1053,
  CONFLICTNAME: 1054,
  CONFLICTVERSION: 1055,
  OBSOLETENAME: 1090,
  PROVIDEFLAGS: 1112,
  PROVIDEVERSION: 1113,
  OBSOLETEFLAGS: 1114,
  OBSOLETEVERSION: 1115,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  PAYLOADFORMAT: 1124,
  PAYLOADCOMPRESSOR: 1125,
  FILEDIGESTALGO: 5011,
  MODULARITYLABEL: 5096,
} as const;

/** Data types of index entries (rpm_tagtype_t). */
export const TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

/** File flags (rpmfileAttrs) the later stages care about. */
export const FILE_FLAG = {
  CONFIG: 1 << 0,
  DOC: 1 << 1,
  MISSINGOK: 1 << 3,
  NOREPLACE: 1 << 4,
  GHOST: 1 << 6,
  LICENSE: 1 << 7,
  README: 1 << 8,
  ARTIFACT: 1 << 12,
} as const;

/** Dependency sense flags (rpmsenseFlags): comparison bits. */
export const SENSE = { LESS: 1 << 1, GREATER: 1 << 2, EQUAL: 1 << 3 } as const;

/** rpm's own limits on a header (header_internal.h): entries and data bytes. */
export const MAX_INDEX_ENTRIES = 0xffff;
export const MAX_DATA_BYTES = 0x0fffffff;

const MAGIC = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);

/** One tag's value. Integers are unsigned, as rpm stores them. */
export type TagValue =
  | { readonly type: "int"; readonly values: readonly number[] }
  | { readonly type: "int64"; readonly values: readonly bigint[] }
  | { readonly type: "string"; readonly values: readonly string[] }
  | { readonly type: "bin"; readonly value: Buffer }
  | { readonly type: "null" };

export interface RpmDependency {
  readonly name: string;
  /** rpmsenseFlags (comparison and context bits). */
  readonly flags: number;
  /** `[E:]V[-R]`, or "" for an unversioned dependency. */
  readonly version: string;
}

export interface RpmFile {
  /** Absolute path ("/usr/bin/hello"). */
  readonly path: string;
  /** st_mode including the file-type bits (0o100755, 0o120777...). */
  readonly mode: number;
  /** rpmfileAttrs (config, noreplace, ghost, doc...). */
  readonly flags: number;
  /** Hex digest of a regular file's content (algorithm: `fileDigestAlgo`), "" otherwise. */
  readonly digest: string;
  readonly size: number;
  /** Symlink target, "" for other files. */
  readonly linkTo: string;
  readonly user: string;
  readonly group: string;
}

/** A parsed header: the typed fields this backend uses plus every tag as read. */
export interface RpmHeader {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly epoch: number | undefined;
  /** Absent for pseudo-packages (gpg-pubkey). */
  readonly arch: string | undefined;
  /** File name of the source rpm ("openssl-3.0.7-27.el9.src.rpm"); absent for source and pseudo-packages. */
  readonly sourceRpm: string | undefined;
  readonly provides: readonly RpmDependency[];
  readonly requires: readonly RpmDependency[];
  readonly conflicts: readonly RpmDependency[];
  readonly obsoletes: readonly RpmDependency[];
  readonly files: readonly RpmFile[];
  /** PGP hash algorithm id of FILEDIGESTS (1 MD5 when absent, 8 SHA-256...). */
  readonly fileDigestAlgo: number;
  readonly tags: ReadonlyMap<number, TagValue>;
}

/** Where a header sits in a buffer and how long it is. */
interface HeaderSpan {
  readonly header: RpmHeader;
  /** Bytes the header occupies from its start (magic included when present). */
  readonly length: number;
}

function bad(what: string, msg: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${what}: invalid rpm header: ${msg}`);
}

const FIXED_SIZE: Record<number, number> = {
  [TYPE.CHAR]: 1,
  [TYPE.INT8]: 1,
  [TYPE.INT16]: 2,
  [TYPE.INT32]: 4,
  [TYPE.INT64]: 8,
};

/** Read one entry's value from the data store, checking it stays inside `[0, dl)`. */
function readValue(
  data: Buffer,
  type: number,
  offset: number,
  count: number,
  tag: number,
  what: string,
): TagValue {
  const dl = data.length;
  if (offset > dl) throw bad(what, `tag ${tag} points past the data (${offset} > ${dl})`);
  const size = FIXED_SIZE[type];
  if (size !== undefined) {
    if (offset % size !== 0) throw bad(what, `tag ${tag} is misaligned`);
    if (count > (dl - offset) / size) throw bad(what, `tag ${tag} runs past the data`);
    if (type === TYPE.INT64) {
      const values: bigint[] = [];
      for (let i = 0; i < count; i++) values.push(data.readBigUInt64BE(offset + 8 * i));
      return { type: "int64", values };
    }
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = offset + size * i;
      values.push(size === 1 ? data[at]! : size === 2 ? data.readUInt16BE(at) : data.readUInt32BE(at));
    }
    return { type: "int", values };
  }
  switch (type) {
    case TYPE.NULL:
      return { type: "null" };
    case TYPE.BIN:
      if (count > dl - offset) throw bad(what, `tag ${tag} runs past the data`);
      return { type: "bin", value: data.subarray(offset, offset + count) };
    case TYPE.STRING:
    case TYPE.STRING_ARRAY:
    case TYPE.I18NSTRING: {
      if (type === TYPE.STRING && count !== 1) throw bad(what, `string tag ${tag} has count ${count}`);
      // every string takes at least one byte (its NUL): a count beyond the data is hostile
      if (count > dl - offset) throw bad(what, `tag ${tag} runs past the data`);
      const values: string[] = [];
      let at = offset;
      for (let i = 0; i < count; i++) {
        const end = data.indexOf(0, at);
        if (end < 0) throw bad(what, `string of tag ${tag} is not terminated`);
        values.push(data.toString("utf8", at, end));
        at = end + 1;
      }
      return { type: "string", values };
    }
    default:
      throw bad(what, `tag ${tag} has unknown type ${type}`);
  }
}

/**
 * Parse the tag index and data of a header. `buf` starts at the header (at its magic when
 * `magic` is true); with `exact`, the header must fill `buf` completely (database blobs).
 */
export function readHeaderTags(
  buf: Buffer,
  what: string,
  opts: { magic?: boolean; exact?: boolean } = {},
): { tags: Map<number, TagValue>; length: number } {
  let start = 0;
  if (opts.magic) {
    if (buf.length < 8 || !buf.subarray(0, 4).equals(MAGIC)) throw bad(what, "no header magic");
    start = 8;
  }
  if (buf.length - start < 8) throw bad(what, `truncated (${buf.length} bytes)`);
  const il = buf.readUInt32BE(start);
  const dl = buf.readUInt32BE(start + 4);
  if (il < 1 || il > MAX_INDEX_ENTRIES) throw bad(what, `${il} index entries`);
  if (dl > MAX_DATA_BYTES) throw bad(what, `${dl} data bytes`);
  const indexStart = start + 8;
  const dataStart = indexStart + il * 16;
  const length = dataStart + dl;
  if (length > buf.length) throw bad(what, `truncated (${buf.length} of ${length} bytes)`);
  if (opts.exact && length !== buf.length) throw bad(what, `${buf.length - length} bytes after the header`);
  const data = buf.subarray(dataStart, length);
  const tags = new Map<number, TagValue>();
  for (let i = 0; i < il; i++) {
    const e = indexStart + 16 * i;
    const tag = buf.readUInt32BE(e);
    const type = buf.readUInt32BE(e + 4);
    const offset = buf.readInt32BE(e + 8);
    const count = buf.readUInt32BE(e + 12);
    // region tags (61..63) point at their trailer; their offsets are checked like any other
    if (offset < 0) throw bad(what, `tag ${tag} has a negative offset`);
    if (count < 1 && type !== TYPE.NULL) throw bad(what, `tag ${tag} has no values`);
    // entries after the immutable region (added at install time) override it, as in rpm
    tags.set(tag, readValue(data, type, offset, count, tag, what));
  }
  return { tags, length };
}

function strings(
  tags: ReadonlyMap<number, TagValue>,
  tag: number,
  what: string,
): readonly string[] | undefined {
  const v = tags.get(tag);
  if (v === undefined) return undefined;
  if (v.type !== "string") throw bad(what, `tag ${tag} is not a string`);
  return v.values;
}

function ints(tags: ReadonlyMap<number, TagValue>, tag: number, what: string): readonly number[] | undefined {
  const v = tags.get(tag);
  if (v === undefined) return undefined;
  if (v.type !== "int") throw bad(what, `tag ${tag} is not an integer`);
  return v.values;
}

function one(tags: ReadonlyMap<number, TagValue>, tag: number, what: string): string | undefined {
  const v = strings(tags, tag, what);
  if (v === undefined) return undefined;
  if (v.length !== 1) throw bad(what, `tag ${tag} has ${v.length} values`);
  return v[0];
}

/** `values` when it has `n` entries (or is absent: then `fallback` for each). */
function column<T>(
  values: readonly T[] | undefined,
  n: number,
  fallback: T,
  tag: number,
  what: string,
): readonly T[] {
  if (values === undefined) return new Array<T>(n).fill(fallback);
  if (values.length !== n) throw bad(what, `tag ${tag} has ${values.length} values for ${n} entries`);
  return values;
}

function dependencies(
  tags: ReadonlyMap<number, TagValue>,
  nameTag: number,
  flagsTag: number,
  versionTag: number,
  what: string,
): RpmDependency[] {
  const names = strings(tags, nameTag, what) ?? [];
  const flags = column(ints(tags, flagsTag, what), names.length, 0, flagsTag, what);
  const versions = column(strings(tags, versionTag, what), names.length, "", versionTag, what);
  return names.map((name, i) => ({ name, flags: flags[i]!, version: versions[i]! }));
}

function fileList(tags: ReadonlyMap<number, TagValue>, what: string): RpmFile[] {
  let paths: readonly string[];
  const basenames = strings(tags, TAG.BASENAMES, what);
  if (basenames !== undefined) {
    const dirnames = strings(tags, TAG.DIRNAMES, what) ?? [];
    const dirindexes = column(ints(tags, TAG.DIRINDEXES, what), basenames.length, -1, TAG.DIRINDEXES, what);
    paths = basenames.map((b, i) => {
      const dir = dirnames[dirindexes[i]!];
      if (dir === undefined)
        throw bad(what, `file ${i} has directory index ${dirindexes[i]} of ${dirnames.length}`);
      return dir + b;
    });
  } else {
    paths = strings(tags, TAG.OLDFILENAMES, what) ?? [];
  }
  const n = paths.length;
  const modes = column(ints(tags, TAG.FILEMODES, what), n, 0, TAG.FILEMODES, what);
  const flags = column(ints(tags, TAG.FILEFLAGS, what), n, 0, TAG.FILEFLAGS, what);
  const digests = column(strings(tags, TAG.FILEDIGESTS, what), n, "", TAG.FILEDIGESTS, what);
  const sizes = column(ints(tags, TAG.FILESIZES, what), n, 0, TAG.FILESIZES, what);
  const links = column(strings(tags, TAG.FILELINKTOS, what), n, "", TAG.FILELINKTOS, what);
  const users = column(strings(tags, TAG.FILEUSERNAME, what), n, "", TAG.FILEUSERNAME, what);
  const groups = column(strings(tags, TAG.FILEGROUPNAME, what), n, "", TAG.FILEGROUPNAME, what);
  return paths.map((path, i) => ({
    path,
    mode: modes[i]!,
    flags: flags[i]!,
    digest: digests[i]!,
    size: sizes[i]!,
    linkTo: links[i]!,
    user: users[i]!,
    group: groups[i]!,
  }));
}

/** The typed record of already-read tags. */
export function headerFromTags(tags: ReadonlyMap<number, TagValue>, what: string): RpmHeader {
  const name = one(tags, TAG.NAME, what);
  const version = one(tags, TAG.VERSION, what);
  const release = one(tags, TAG.RELEASE, what);
  if (name === undefined || version === undefined || release === undefined)
    throw bad(what, "no name, version or release");
  const epochs = ints(tags, TAG.EPOCH, what);
  if (epochs !== undefined && epochs.length !== 1) throw bad(what, `epoch has ${epochs.length} values`);
  return {
    name,
    version,
    release,
    epoch: epochs?.[0],
    arch: one(tags, TAG.ARCH, what),
    sourceRpm: one(tags, TAG.SOURCERPM, what),
    provides: dependencies(tags, TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION, what),
    requires: dependencies(tags, TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION, what),
    conflicts: dependencies(tags, TAG.CONFLICTNAME, TAG.CONFLICTFLAGS, TAG.CONFLICTVERSION, what),
    obsoletes: dependencies(tags, TAG.OBSOLETENAME, TAG.OBSOLETEFLAGS, TAG.OBSOLETEVERSION, what),
    files: fileList(tags, what),
    fileDigestAlgo: ints(tags, TAG.FILEDIGESTALGO, what)?.[0] ?? 1,
    tags,
  };
}

/** Parse a header blob as the rpm database stores it (no magic; the blob is exactly the header). */
export function parseHeaderBlob(blob: Buffer, what: string): RpmHeader {
  return headerFromTags(readHeaderTags(blob, what, { exact: true }).tags, what);
}

/** Parse a header that starts with its magic (as in a package file); returns its length too. */
export function parseHeaderWithMagic(buf: Buffer, what: string): HeaderSpan {
  const { tags, length } = readHeaderTags(buf, what, { magic: true });
  return { header: headerFromTags(tags, what), length };
}

/** The source rpm's package name: "openssl-3.0.7-27.el9.src.rpm" → "openssl". */
export function sourceRpmName(sourceRpm: string): string | undefined {
  const m = /^(.+)-[^-]+-[^-]+\.(?:no)?src\.rpm$/.exec(sourceRpm);
  return m?.[1];
}

/** The source rpm's `V-R`: "openssl-3.0.7-27.el9.src.rpm" → "3.0.7-27.el9". */
export function sourceRpmVersion(sourceRpm: string): string | undefined {
  const m = /^.+-([^-]+-[^-]+)\.(?:no)?src\.rpm$/.exec(sourceRpm);
  return m?.[1];
}
