/**
 * A v2 `.apk` file (apk-v2(5), apk-package(5)): gzip member 1 the signature segment, member 2
 * the control segment (`.PKGINFO`, install scripts), member 3 the data tarball. The identity in
 * the index (`C:`) is `Q1` + base64 SHA-1 of member 2's compressed bytes; the signature covers
 * member 2 when `.PKGINFO` has `datahash` (hex SHA-256 of member 3's compressed bytes), else
 * members 2 and 3 together. abuild-tar gives every data entry an `APK-TOOLS.checksum.SHA1` PAX
 * record: hex SHA-1 of the file's content (of the link target for symlinks).
 */
import { createHash } from "node:crypto";
import { OcipatchError } from "../../errors.js";
import { readTar, splitGzipMembers, type TarEntry } from "./archive.js";
import { type ApkTrustedKey, signaturesOf, verifyApkSignatures } from "./signature.js";

/** `.PKGINFO`: `key = value` lines; repeatable keys (depend, provides …) keep every value. */
export type PkgInfo = Readonly<Record<string, readonly string[]>>;

const APK_SHA1_PAX = "APK-TOOLS.checksum.SHA1";

export interface ApkDataEntry {
  /** Absolute path in the image ("/usr/bin/foo"; directories without a trailing slash). */
  readonly path: string;
  readonly type: TarEntry["type"];
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly linkTarget: string | undefined;
  /**
   * Hex SHA-1 from the entry's PAX header (verified against the content); for a hard link, its
   * target's (apk_db_install_file takes the link target's checksum, not the link's record).
   */
  readonly sha1: string | undefined;
  readonly content: Buffer;
}

export interface ApkPackage {
  readonly pkginfo: PkgInfo;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** `Q1` + base64 SHA-1 of the control member: what APKINDEX `C:` must say. */
  readonly checksum: string;
  /** Hex SHA-256 of the data member. */
  readonly dataHash: string;
  readonly signedBy: string;
  /** Control segment files other than `.PKGINFO` (`.pre-install`, `.trigger` …). */
  readonly scripts: ReadonlyMap<string, Buffer>;
  readonly entries: readonly ApkDataEntry[];
}

function parsePkgInfo(text: string, source: string): PkgInfo {
  const out: Record<string, string[]> = {};
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "" || line.startsWith("#")) return;
    const eq = line.indexOf(" = ");
    if (eq <= 0) throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: not a "key = value" line`);
    const k = line.slice(0, eq);
    const values = out[k] ?? [];
    values.push(line.slice(eq + 3));
    out[k] = values;
  });
  return out;
}

/** The apk identity of a control member: `Q1` + base64 SHA-1. */
function apkChecksumQ1(raw: Buffer): string {
  return `Q1${createHash("sha1").update(raw).digest("base64")}`;
}

interface ReadApkPackageOptions {
  readonly keys: readonly ApkTrustedKey[];
  /** APKINDEX `C:` of this package: the control member must match it. */
  readonly expectedChecksum?: string;
  readonly source: string;
}

/** Read and verify a `.apk`: signature, index checksum, datahash, per-entry SHA-1. */
export function readApkPackage(bytes: Buffer, opts: ReadApkPackageOptions): ApkPackage {
  const { source } = opts;
  const members = splitGzipMembers(bytes, source);
  if (members.length !== 3)
    throw new OcipatchError("INVALID_FORMAT", `${source}: ${members.length} gzip members, expected 3`);
  const [sig, control, data] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0]];
  const checksum = apkChecksumQ1(control.raw);
  if (opts.expectedChecksum !== undefined && checksum !== opts.expectedChecksum)
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `${source}: control checksum ${checksum} does not match the index (${opts.expectedChecksum})`,
    );
  const controlFiles = readTar(control.data, source);
  const info = controlFiles.find((f) => f.name === ".PKGINFO");
  if (!info) throw new OcipatchError("INVALID_FORMAT", `${source}: no .PKGINFO in the control segment`);
  const pkginfo = parsePkgInfo(info.data.toString("utf8"), `${source}: .PKGINFO`);
  const one = (k: string): string | undefined => pkginfo[k]?.[0];
  const dataHash = createHash("sha256").update(data.raw).digest("hex");
  const declared = one("datahash");
  const signed = declared === undefined ? Buffer.concat([control.raw, data.raw]) : control.raw;
  const signedBy = verifyApkSignatures(signaturesOf(readTar(sig.data, source)), opts.keys, signed, source);
  if (declared !== undefined && declared !== dataHash)
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `${source}: data SHA-256 ${dataHash} does not match datahash ${declared}`,
    );
  const name = one("pkgname");
  const version = one("pkgver");
  if (!name || !version)
    throw new OcipatchError("INVALID_FORMAT", `${source}: .PKGINFO without pkgname or pkgver`);
  const scripts = new Map<string, Buffer>();
  for (const f of controlFiles) if (f.name !== ".PKGINFO" && f.type === "file") scripts.set(f.name, f.data);
  const earlier = new Map<string, ApkDataEntry>();
  type Content = Pick<ApkDataEntry, "linkTarget" | "sha1" | "content">;
  /**
   * apk_db_install_file: a hard link's target must be a file installed earlier from the same
   * archive ("no hard link target (%s) in archive"); its checksum is the target's. A link to a
   * link is a link to the file: the file's path and content are carried along.
   */
  const hardlinkTarget = (e: TarEntry, path: string): Content => {
    const target = earlier.get(`/${e.linkname.replace(/^\.?\/+/, "")}`);
    if (target === undefined || target.type === "directory")
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${source}: ${path}: no hard link target (${e.linkname}) in archive`,
      );
    if (target.type === "symlink")
      throw new OcipatchError(
        "UNSUPPORTED",
        `${source}: ${path}: a hard link to a symbolic link (${e.linkname})`,
      );
    return {
      linkTarget: target.type === "hardlink" ? target.linkTarget : target.path,
      sha1: target.sha1,
      content: target.content,
    };
  };
  /** A file's or symlink's own content, checked against its APK-TOOLS.checksum.SHA1 record. */
  const ownContent = (e: TarEntry, path: string): Content => {
    const sha1 = e.pax[APK_SHA1_PAX];
    if (sha1 !== undefined && (e.type === "file" || e.type === "symlink")) {
      const actual = createHash("sha1")
        .update(e.type === "symlink" ? Buffer.from(e.linkname) : e.data)
        .digest("hex");
      if (actual !== sha1)
        throw new OcipatchError(
          "DIGEST_MISMATCH",
          `${source}: ${path}: SHA-1 ${actual} does not match ${APK_SHA1_PAX} ${sha1}`,
        );
    }
    return { linkTarget: e.type === "symlink" ? e.linkname : undefined, sha1, content: e.data };
  };
  const entries = readTar(data.data, source).map((e): ApkDataEntry => {
    const path = `/${e.name.replace(/^\.?\/+/, "").replace(/\/+$/, "")}`;
    if (path.split("/").includes(".."))
      throw new OcipatchError("HOSTILE_LAYER", `${source}: data entry "${e.name}" leaves the root`);
    const entry: ApkDataEntry = {
      path,
      type: e.type,
      mode: e.mode,
      uid: e.uid,
      gid: e.gid,
      size: e.size,
      ...(e.type === "hardlink" ? hardlinkTarget(e, path) : ownContent(e, path)),
    };
    earlier.set(path, entry);
    return entry;
  });
  return {
    pkginfo,
    name,
    version,
    architecture: one("arch") ?? "",
    checksum,
    dataHash,
    signedBy,
    scripts,
    entries,
  };
}
