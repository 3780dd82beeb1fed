/**
 * The apk repositories a plan is made from, and the keys that must have signed them
 * (apk-repositories(5), apk-keys(5)): URLs from the image's `/etc/apk/repositories` or from
 * `--repository`; keys from the image's `/etc/apk/keys` plus `--keyring` PEM files. A URL names
 * the directory that holds `<arch>/APKINDEX.tar.gz`; every index is verified before use.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { isOcipatchError, OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { Platform } from "../../image/manifest.js";
import { partialSibling } from "../../util/fs.js";
import { getBytes } from "../../util/http/get.js";
import { redactUrl } from "../../util/http/redact.js";
import type { BackendFiles, RepositoryOptions } from "../types.js";
import { type ApkIndexEntry, readApkIndex } from "./apkindex.js";
import { APK_REPOSITORIES, parseApkRepositories } from "./config.js";
import { type ApkTrustedKey, parseApkKey, readApkKeys } from "./signature.js";

/** Bound on an APKINDEX.tar.gz (Alpine's largest, community, is a few MB). */
const MAX_INDEX_BYTES = 256 * 1024 * 1024;

/** apk's architecture name of an OCI platform. */
function apkArchitecture(platform: Pick<Platform, "architecture" | "variant">): string {
  const { architecture: a, variant: v } = platform;
  const map: Record<string, string> = {
    amd64: "x86_64",
    arm64: "aarch64",
    "386": "x86",
    ppc64le: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loongarch64",
  };
  if (a === "arm") return v === "v6" || v === "v5" ? "armhf" : "armv7";
  const out = map[a];
  if (!out) throw new OcipatchError("UNSUPPORTED", `apk has no architecture for platform ${a}`);
  return out;
}

/** One verified repository index. */
export interface ApkRepositoryIndex {
  /** The repository URL (the directory holding `<arch>/`), without a trailing slash. */
  readonly url: string;
  readonly arch: string;
  readonly entries: readonly ApkIndexEntry[];
  readonly signedBy: string;
  readonly bytes: number;
}

interface LoadedRepositories {
  readonly indices: readonly ApkRepositoryIndex[];
  readonly keys: readonly ApkTrustedKey[];
  /** Bytes fetched over the network. */
  readonly bytesFetched: number;
  readonly warnings: string[];
}

async function imageRepositoryUrls(fs: BackendFiles, warnings: string[]): Promise<string[]> {
  const st = await fs.stat(APK_REPOSITORIES);
  if (st?.type !== "file") return [];
  const text = (await fs.readFile(APK_REPOSITORIES)).toString("utf8");
  const out: string[] = [];
  for (const r of parseApkRepositories(text, `${fs.description}: ${APK_REPOSITORIES}`)) {
    if (r.tag !== undefined) {
      warnings.push(`apk repository @${r.tag} ${redactUrl(r.url)} is tagged: not used for upgrades`);
      continue;
    }
    if (!/^https?:\/\//i.test(r.url)) {
      warnings.push(`apk repository ${r.url} is not an http(s) URL: not used`);
      continue;
    }
    out.push(r.url);
  }
  return out;
}

async function extraKeys(files: readonly string[]): Promise<ApkTrustedKey[]> {
  const out: ApkTrustedKey[] = [];
  for (const f of files) {
    let pem: Buffer;
    try {
      pem = await readFile(f);
    } catch (e) {
      throw new OcipatchError("IO", `keyring ${f}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`, {
        cause: e,
        details: { option: "keyrings" },
      });
    }
    out.push(parseApkKey(basename(f), pem, `keyring ${f}`));
  }
  return out;
}

function cachePath(cacheDir: string, url: string): string {
  return join(cacheDir, `apkindex-${createHash("sha256").update(url).digest("hex").slice(0, 32)}.tar.gz`);
}

/** Write a verified index into the cache (atomically; unique temporary name). */
async function cacheIndex(path: string, bytes: Buffer): Promise<void> {
  const part = partialSibling(path);
  try {
    await writeFile(part, bytes);
    await rename(part, path);
  } catch {
    await rm(part, { force: true }).catch(() => undefined);
  }
}

/** Repositories, keys and verified indices for one image. */
export async function loadApkRepositories(
  fs: BackendFiles,
  platform: Platform,
  opts: RepositoryOptions,
  signal?: AbortSignal,
): Promise<LoadedRepositories> {
  const warnings: string[] = [];
  const arch = apkArchitecture(platform);
  const configured = opts.repositories ?? [];
  for (const u of configured)
    if (!/^https?:\/\/[^/]/i.test(u))
      throw new OcipatchError("USAGE", `apk repository ${redactUrl(u)}: not an http(s) URL`, {
        details: { option: "repositories" },
      });
  const urls = [
    ...new Set(
      (configured.length > 0 ? configured : await imageRepositoryUrls(fs, warnings)).map((u) =>
        u.replace(/\/+$/, ""),
      ),
    ),
  ];
  if (urls.length === 0)
    throw new OcipatchError(
      "USAGE",
      `${fs.description}: no apk repository (no usable ${APK_REPOSITORIES}): give a repository URL`,
      { details: { option: "repositories" } },
    );
  const keys = [...(await readApkKeys(fs)), ...(await extraKeys(opts.config?.keyrings ?? []))];
  if (keys.length === 0)
    throw new OcipatchError(
      "SIGNATURE",
      `${fs.description}: no apk signing key (no /etc/apk/keys): give the repository's public key as a keyring`,
      { details: { option: "keyrings" } },
    );
  const indices: ApkRepositoryIndex[] = [];
  let fetched = 0;
  for (const url of urls) {
    const indexUrl = `${url}/${arch}/APKINDEX.tar.gz`;
    const shown = redactUrl(indexUrl);
    const cached = opts.cacheDir ? cachePath(opts.cacheDir, indexUrl) : undefined;
    let bytes: Buffer | undefined;
    if (opts.offline) {
      if (cached) bytes = await readFile(cached).catch(undefinedIfNotFound);
      if (!bytes) throw new OcipatchError("NOT_FOUND", `${shown}: not cached (offline)`);
    } else {
      const got = await getBytes(indexUrl, {
        signal,
        maxBytes: MAX_INDEX_BYTES,
        userAgent: "ocipatch (apk repository)",
      });
      if (got === "not-found")
        throw new OcipatchError(
          "NOT_FOUND",
          `apk repository ${redactUrl(url)} has no ${arch}/APKINDEX.tar.gz (HTTP 404)`,
        );
      bytes = got;
      fetched += got.length;
    }
    let index: ReturnType<typeof readApkIndex>;
    try {
      index = readApkIndex(bytes, keys, shown);
    } catch (e) {
      if (isOcipatchError(e)) throw e;
      throw new OcipatchError("INVALID_FORMAT", `${shown}: ${(e as Error).message}`, { cause: e });
    }
    if (cached && !opts.offline) {
      await mkdir(opts.cacheDir as string, { recursive: true });
      await cacheIndex(cached, bytes);
    }
    indices.push({ url, arch, entries: index.entries, signedBy: index.signedBy, bytes: bytes.length });
  }
  return { indices, keys, bytesFetched: fetched, warnings };
}
