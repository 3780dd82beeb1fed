import { OcipatchError } from "../../../errors.js";
import { TAG, type TagValue, TYPE } from "../header.js";
import { type RpmPackageFile, SIGTAG } from "../package/rpm-file.js";

/**
 * The header rpm stores in its database when it installs a package: the package's main header
 * with its immutable region kept byte for byte (index entries and data, so the region's digests
 * and signatures still verify), then the signature header's digests and signatures merged in
 * under their main-header tags (rpm's headerMergeSigs) and the install-time tags, all appended
 * after the region sorted by tag, each value aligned to its type as rpm's headerExport does.
 */

/** Install-time tags (rpmtag.h). */
export const INSTALL_TAG = {
  SIGSIZE: 257,
  SIGPGP: 259,
  SIGMD5: 261,
  SIGGPG: 262,
  INSTALLTIME: TAG.INSTALLTIME,
  FILESTATES: 1029,
  ARCHIVESIZE: 1046,
  INSTALLCOLOR: 1127,
  INSTALLTID: 1128,
} as const;

/** Signature-header tags whose main-header tag differs (the rest in 256..999 keep their number). */
const SIG_RENAMED: Readonly<Record<number, number>> = {
  [SIGTAG.SIZE]: INSTALL_TAG.SIGSIZE,
  [SIGTAG.PGP]: INSTALL_TAG.SIGPGP,
  [SIGTAG.MD5]: INSTALL_TAG.SIGMD5,
  [SIGTAG.GPG]: INSTALL_TAG.SIGGPG,
  [SIGTAG.PAYLOADSIZE]: INSTALL_TAG.ARCHIVESIZE,
};

interface InstallTags {
  /** INSTALLTIME and INSTALLTID (seconds). */
  readonly time: number;
  /** The transaction colour (3 on 64-bit multilib platforms); taken from the image's own headers. */
  readonly color: number;
}

interface Added {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  readonly data: Buffer;
}

const ALIGN: Readonly<Record<number, number>> = { [TYPE.INT16]: 2, [TYPE.INT32]: 4, [TYPE.INT64]: 8 };

function int32(tag: number, values: readonly number[]): Added {
  const data = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => {
    data.writeUInt32BE(v >>> 0, 4 * i);
  });
  return { tag, type: TYPE.INT32, count: values.length, data };
}

/** A signature tag's value in the main header's encoding (undefined: not representable). */
function encode(tag: number, v: TagValue, sigType: number): Added | undefined {
  switch (v.type) {
    case "int":
      if (sigType === TYPE.INT32) return int32(tag, v.values);
      return undefined;
    case "int64": {
      const data = Buffer.alloc(8 * v.values.length);
      v.values.forEach((x, i) => {
        data.writeBigUInt64BE(x, 8 * i);
      });
      return { tag, type: TYPE.INT64, count: v.values.length, data };
    }
    case "bin":
      return { tag, type: TYPE.BIN, count: v.value.length, data: v.value };
    case "string":
      if (sigType === TYPE.STRING && v.values.length === 1)
        return { tag, type: TYPE.STRING, count: 1, data: Buffer.from(`${v.values[0]}\0`) };
      return {
        tag,
        type: sigType === TYPE.I18NSTRING ? TYPE.I18NSTRING : TYPE.STRING_ARRAY,
        count: v.values.length,
        data: Buffer.from(v.values.map((s) => `${s}\0`).join("")),
      };
    default:
      return undefined;
  }
}

/** The type byte of each signature-header entry (the parsed tags do not keep it). */
function sigTypes(pkg: RpmPackageFile): Map<number, number> {
  const out = new Map<number, number>();
  for (const [tag, v] of pkg.signature) {
    if (v.type === "int") out.set(tag, TYPE.INT32);
    else if (v.type === "string") out.set(tag, v.values.length === 1 ? TYPE.STRING : TYPE.STRING_ARRAY);
  }
  return out;
}

/** The database blob of `pkg` installed at `tags.time`: immutable region, merged signatures, install tags. */
export function installedHeaderBlob(pkg: RpmPackageFile, tags: InstallTags): Buffer {
  const what = `${pkg.path}: header`;
  const hb = pkg.headerBytes;
  const il = hb.readUInt32BE(8);
  const dl = hb.readUInt32BE(12);
  const index = hb.subarray(16, 16 + 16 * il);
  const data = hb.subarray(16 + 16 * il, 16 + 16 * il + dl);
  // the region tag comes first and its trailer claims every entry: nothing outside it to carry over
  const regionTag = index.readUInt32BE(0);
  const regionOffset = index.readInt32BE(8);
  if (regionTag !== TAG.HEADERIMMUTABLE || regionOffset < 0 || regionOffset + 16 > dl)
    throw new OcipatchError("UNSUPPORTED", `${what}: no immutable header region`);
  const trailerCount = -data.readInt32BE(regionOffset + 8) / 16;
  if (trailerCount !== il)
    throw new OcipatchError(
      "UNSUPPORTED",
      `${what}: ${il - trailerCount} header entries outside the immutable region`,
    );
  const present = new Set<number>();
  for (let i = 0; i < il; i++) present.add(index.readUInt32BE(16 * i));

  const added: Added[] = [];
  const types = sigTypes(pkg);
  for (const [sigTag, v] of pkg.signature) {
    const tag = SIG_RENAMED[sigTag] ?? (sigTag >= 256 && sigTag < 1000 ? sigTag : undefined);
    if (tag === undefined || present.has(tag)) continue;
    const a = encode(tag, v, types.get(sigTag) ?? TYPE.BIN);
    if (a !== undefined) added.push(a);
  }
  const nfiles = pkg.header.files.length;
  added.push(int32(INSTALL_TAG.INSTALLTIME, [tags.time]));
  // every file installed normally (RPMFILE_STATE_NORMAL): ocipatch writes them all, %ghost included
  if (nfiles > 0)
    added.push({ tag: INSTALL_TAG.FILESTATES, type: TYPE.CHAR, count: nfiles, data: Buffer.alloc(nfiles) });
  added.push(int32(INSTALL_TAG.INSTALLCOLOR, [tags.color]));
  added.push(int32(INSTALL_TAG.INSTALLTID, [tags.time]));
  const fresh = added.filter((a) => !present.has(a.tag)).sort((a, b) => a.tag - b.tag);

  const entries: Buffer[] = [];
  const store: Buffer[] = [data];
  let size = dl;
  for (const a of fresh) {
    const align = ALIGN[a.type] ?? 1;
    const pad = (align - (size % align)) % align;
    if (pad > 0) {
      store.push(Buffer.alloc(pad));
      size += pad;
    }
    const e = Buffer.alloc(16);
    e.writeUInt32BE(a.tag, 0);
    e.writeUInt32BE(a.type, 4);
    e.writeInt32BE(size, 8);
    e.writeUInt32BE(a.count, 12);
    entries.push(e);
    store.push(a.data);
    size += a.data.length;
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(il + fresh.length, 0);
  head.writeUInt32BE(size, 4);
  return Buffer.concat([head, index, ...entries, ...store]);
}
