/**
 * Download planned .apk files and verify each one before it is used: its size (`S:`), its
 * control segment against the index's `C:` checksum, its signature against the keys the index
 * was verified with, `datahash` and every file's SHA-1. Verified files are cached by their
 * `C:` identity (a cached file is verified again before reuse); partial downloads have unique
 * names so concurrent runs sharing the cache do not collide.
 */
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import { partialSibling } from "../../util/fs.js";
import { getBytes } from "../../util/http/get.js";
import { redactUrl } from "../../util/http/redact.js";
import { type FetchedOne, fetchPool } from "../fetch-pool.js";
import type { ArtifactDownload, FetchOutcome, FetchRequest } from "../types.js";
import { type ApkPackage, readApkPackage } from "./package.js";
import type { ApkTrustedKey } from "./signature.js";

/** Bound on one .apk file. */
const MAX_APK_BYTES = 1024 * 1024 * 1024;

/**
 * Keys trusted for a package identity: filled by planning (the keys its index verified with),
 * read by fetch and by the layer builder (which verifies the file again). Keyed by `C:`.
 */
const trustedFor = new Map<string, readonly ApkTrustedKey[]>();
/** Local verified file → its identity. */
const identityOf = new Map<string, string>();

export function trustPackage(checksum: string, keys: readonly ApkTrustedKey[]): void {
  trustedFor.set(checksum, keys);
}

/** A planned .apk the repository no longer has (HTTP 404/410). */
class ApkVanished extends OcipatchError {
  constructor(readonly item: ArtifactDownload) {
    super(
      "NOT_FOUND",
      `${item.package} ${item.version}: ${redactUrl(item.url)} is no longer in the repository (HTTP 404)`,
    );
  }
}

/** Cache file name of an identity (`Q1` + base64 SHA-1 → hex). */
function cacheName(checksum: string): string {
  if (!/^Q1[A-Za-z0-9+/]{27}=$/.test(checksum))
    throw new OcipatchError("INVALID_FORMAT", `not an apk Q1 checksum: "${checksum}"`);
  return `${Buffer.from(checksum.slice(2), "base64").toString("hex")}.apk`;
}

function keysFor(checksum: string, what: string): readonly ApkTrustedKey[] {
  const keys = trustedFor.get(checksum);
  if (!keys) throw new OcipatchError("INTERNAL", `${what}: not from a verified apk index of this run`);
  return keys;
}

function verify(bytes: Buffer, item: ArtifactDownload, source: string): ApkPackage {
  const checksum = item.checksum as string;
  // the identity first (the most telling mismatch), then the size of the whole file
  const pkg = readApkPackage(bytes, { keys: keysFor(checksum, source), expectedChecksum: checksum, source });
  if (bytes.length !== item.size)
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `${source}: ${bytes.length} bytes, the signed index says ${item.size}`,
    );
  if (pkg.name !== item.package || pkg.version !== item.version)
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${source}: is ${pkg.name} ${pkg.version}, the index says ${item.package} ${item.version}`,
    );
  return pkg;
}

export function fetchApks(items: readonly ArtifactDownload[], req: FetchRequest): Promise<FetchOutcome> {
  const checksum = (item: ArtifactDownload): string => {
    if (!item.checksum)
      throw new OcipatchError("INTERNAL", `${item.package} ${item.version}: no index checksum to verify`);
    return item.checksum;
  };
  const fileOf = (item: ArtifactDownload) => cacheName(checksum(item));
  return fetchPool(items, req, fileOf, async (item, file, signal): Promise<FetchedOne> => {
    const shown = redactUrl(item.url);
    const cached = await readFile(file).catch(undefinedIfNotFound);
    if (cached) {
      try {
        verify(cached, item, file);
        identityOf.set(file, checksum(item));
        return { kind: "cached" };
      } catch {
        await rm(file, { force: true });
      }
    }
    const got = await getBytes(item.url, {
      signal,
      maxBytes: MAX_APK_BYTES,
      userAgent: "ocipatch (apk repository)",
    });
    if (got === "not-found") return { kind: "vanished", error: new ApkVanished(item) };
    verify(got, item, `${item.package} ${item.version} (${shown})`);
    const part = partialSibling(file);
    try {
      await writeFile(part, got);
      await rename(part, file);
    } catch (e) {
      await rm(part, { force: true }).catch(() => undefined);
      throw new OcipatchError("IO", `cannot store ${file}: ${(e as Error).message}`, { cause: e });
    }
    identityOf.set(file, checksum(item));
    return { kind: "downloaded", bytes: got.length };
  });
}

/** Read a file fetched (and verified) in this run; it is verified again from its bytes. */
export async function readFetchedApk(path: string): Promise<{ pkg: ApkPackage; size: number }> {
  const checksum = identityOf.get(path);
  if (!checksum) throw new OcipatchError("INTERNAL", `${path}: not an apk fetched in this run`);
  const bytes = await readFile(path);
  const pkg = readApkPackage(bytes, {
    keys: keysFor(checksum, path),
    expectedChecksum: checksum,
    source: path,
  });
  return { pkg, size: bytes.length };
}
