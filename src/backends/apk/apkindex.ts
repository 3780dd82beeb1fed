/**
 * `APKINDEX.tar.gz` (apk-repositories(5), apk-v2(5)): gzip member 1 is the signature segment,
 * member 2 a tarball with `DESCRIPTION` and `APKINDEX`; the signature covers member 2's exact
 * compressed bytes. `APKINDEX` has one record per package, `X:value` lines separated by blank
 * lines (fields of apk-package(5): C P V A S I T U L o m t c D p i k).
 */
import { OcipatchError } from "../../errors.js";
import { readTar, splitGzipMembers } from "./archive.js";
import { type ApkTrustedKey, signaturesOf, verifyApkSignatures } from "./signature.js";

export interface ApkIndexEntry {
  /** `C:` `Q1` + base64 SHA-1 of the package's control member: the package identity. */
  readonly checksum: string;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** `S:` size of the .apk file. */
  readonly size: number;
  /** `I:` installed size. */
  readonly installedSize: number;
  readonly description: string;
  readonly url: string;
  readonly license: string;
  readonly origin: string;
  readonly maintainer: string | undefined;
  readonly buildTime: number | undefined;
  readonly commit: string | undefined;
  readonly depends: readonly string[];
  readonly provides: readonly string[];
  readonly installIf: readonly string[];
  /** `k:` provider priority. */
  readonly providerPriority: number | undefined;
  /** 1-based line in APKINDEX. */
  readonly line: number;
}

interface ApkIndex {
  readonly description: string;
  readonly entries: readonly ApkIndexEntry[];
  /** Name of the trusted key whose signature verified. */
  readonly signedBy: string;
}

const words = (v: string | undefined): string[] => (v ?? "").split(/\s+/).filter((w) => w !== "");

/** Parse the `APKINDEX` text. Malformed → INVALID_FORMAT with source and line. */
export function parseApkIndexText(text: string, source: string): ApkIndexEntry[] {
  const out: ApkIndexEntry[] = [];
  let fields: Record<string, string> = {};
  let start = 0;
  const lines = text.split("\n");
  const finish = () => {
    if (start === 0) return;
    const need = (k: string): string => {
      const v = fields[k];
      if (v === undefined || v === "")
        throw new OcipatchError("INVALID_FORMAT", `${source}:${start}: package record without ${k}:`);
      return v;
    };
    const num = (k: string): number | undefined => {
      const v = fields[k];
      if (v === undefined) return undefined;
      if (!/^\d+$/.test(v))
        throw new OcipatchError("INVALID_FORMAT", `${source}:${start}: ${k}: is not a number`);
      return Number(v);
    };
    const name = need("P");
    out.push({
      checksum: need("C"),
      name,
      version: need("V"),
      architecture: fields.A ?? "",
      size: num("S") ?? 0,
      installedSize: num("I") ?? 0,
      description: fields.T ?? "",
      url: fields.U ?? "",
      license: fields.L ?? "",
      origin: fields.o ?? name,
      maintainer: fields.m,
      buildTime: num("t"),
      commit: fields.c,
      depends: words(fields.D),
      provides: words(fields.p),
      installIf: words(fields.i),
      providerPriority: num("k"),
      line: start,
    });
    fields = {};
    start = 0;
  };
  lines.forEach((l, i) => {
    if (l === "") {
      finish();
      return;
    }
    if (l.length < 2 || l[1] !== ":")
      throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: not a "X:value" line`);
    if (start === 0) start = i + 1;
    fields[l[0] as string] ??= l.slice(2);
  });
  finish();
  return out;
}

/** Read and verify an `APKINDEX.tar.gz` against trusted keys. */
export function readApkIndex(bytes: Buffer, keys: readonly ApkTrustedKey[], source: string): ApkIndex {
  const members = splitGzipMembers(bytes, source);
  if (members.length < 2)
    throw new OcipatchError("SIGNATURE", `${source}: not signed (${members.length} gzip member, expected 2)`);
  if (members.length > 2)
    throw new OcipatchError("INVALID_FORMAT", `${source}: ${members.length} gzip members, expected 2`);
  const [sig, body] = members as [(typeof members)[0], (typeof members)[0]];
  const signedBy = verifyApkSignatures(signaturesOf(readTar(sig.data, source)), keys, body.raw, source);
  const files = readTar(body.data, source);
  const index = files.find((f) => f.name === "APKINDEX" && f.type === "file");
  if (!index) throw new OcipatchError("INVALID_FORMAT", `${source}: no APKINDEX file inside`);
  const description =
    files
      .find((f) => f.name === "DESCRIPTION")
      ?.data.toString("utf8")
      .trim() ?? "";
  return {
    description,
    entries: parseApkIndexText(index.data.toString("utf8"), `${source}: APKINDEX`),
    signedBy,
  };
}
