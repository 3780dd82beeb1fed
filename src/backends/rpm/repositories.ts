/**
 * The rpm repositories a plan is made from, verified as dnf verifies them: the image's enabled
 * `/etc/yum.repos.d/*.repo` repositories (or `--repository` URLs), `$releasever`/`$basearch`
 * substituted, `repomd.xml` fetched (its detached `repomd.xml.asc` checked with the repository's
 * `gpgkey=file://…` keys when `repo_gpgcheck=1`), `primary.xml` streamed to the cache and checked
 * against repomd's checksum while it is parsed. Nothing unverified is cached or returned.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { isOcipatchError, OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { Platform } from "../../image/manifest.js";
import type { InstalledPackage } from "../../inventory/types.js";
import { partialSibling } from "../../util/fs.js";
import { getBytes, getWithRetries, retryableFailure } from "../../util/http/get.js";
import { redactUrl } from "../../util/http/redact.js";
import { discard } from "../../util/streams.js";
import type { BackendFiles, RepositoryOptions } from "../types.js";
import { SENSE } from "./header.js";
import { rpmRecord } from "./record.js";
import { type RpmKey, readRpmKeys } from "./repo/keys.js";
import { MAX_MIRRORLIST_BYTES, type MirrorList, parseMirrors, repomdMatches } from "./repo/mirrors.js";
import { type RepoPackage, readPrimary } from "./repo/primary.js";
import {
  type RpmRepo,
  readImageRepos,
  readRepoKeys,
  readRepoVars,
  substituteVars,
} from "./repo/repo-file.js";
import { parseRepomd, type RepomdData, verifyRepomdSignature } from "./repo/repomd.js";

const USER_AGENT = "ocipatch (rpm repository)";
/** Bounds on repomd.xml and its signature (a few KB in practice). */
const MAX_REPOMD_BYTES = 4 * 1024 * 1024;
const MAX_ASC_BYTES = 256 * 1024;
/** Bound on a primary.xml when repomd gives no size (RHEL AppStream's is tens of MB). */
const MAX_PRIMARY_BYTES = 1024 * 1024 * 1024;
/** Where RPM distributions keep the keys their .repo files name. */
const KEY_DIR = "/etc/pki/rpm-gpg";

/** rpm's base architecture of an OCI platform (dnf's `$basearch`). */
export function rpmBaseArch(platform: Pick<Platform, "architecture" | "variant">): string {
  const map: Record<string, string> = {
    amd64: "x86_64",
    arm64: "aarch64",
    ppc64le: "ppc64le",
    s390x: "s390x",
    "386": "i386",
    riscv64: "riscv64",
  };
  const out = platform.architecture === "arm" ? "armhfp" : map[platform.architecture];
  if (!out)
    throw new OcipatchError(
      "UNSUPPORTED",
      `rpm has no base architecture for platform ${platform.architecture}`,
    );
  return out;
}

/** One verified repository: its configuration, trust and packages. */
interface RpmRepository {
  /** The repository id (`[baseos]`), or the URL for `--repository`. */
  readonly id: string;
  /** The base URL the metadata came from, without a trailing slash. */
  readonly baseurl: string;
  /** Packages must carry a header signature by one of `keys`. */
  readonly gpgcheck: boolean;
  /** repomd.xml was verified with `keys`. */
  readonly repoGpgcheck: boolean;
  readonly keys: readonly RpmKey[];
  /** repomd.xml `<revision>`. */
  readonly revision: string | undefined;
  /** The packages of primary.xml for `$basearch` and noarch. */
  readonly packages: readonly RepoPackage[];
}

interface LoadedRpmRepositories {
  readonly repos: readonly RpmRepository[];
  readonly basearch: string;
  readonly releasever: string | undefined;
  /** Bytes of metadata fetched over the network (cached files not counted). */
  readonly bytesFetched: number;
  readonly warnings: string[];
}

/** What the image's package set and os-release say about `$releasever` (optional). */
interface RpmSystem {
  readonly installed?: readonly InstalledPackage[] | undefined;
  /** os-release VERSION_ID. */
  readonly versionId?: string | undefined;
}

async function fileText(fs: BackendFiles, path: string): Promise<string | undefined> {
  try {
    const st = await fs.stat(path);
    return st?.type === "file" ? (await fs.readFile(path)).toString("utf8") : undefined;
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}

/** The capabilities dnf looks for to find `$releasever` (dnf.const.DISTROVERPKG), in order. */
const DISTROVERPKG = [
  "system-release(releasever)",
  "system-release",
  "distribution-release(releasever)",
  "distribution-release",
  "redhat-release",
  "suse-release",
];

/**
 * `$releasever` as dnf finds it: a `releasever` file in /etc/dnf/vars (or /etc/yum/vars), else the
 * installed package providing one of DISTROVERPKG (its version, or the provide's `= version` when the
 * provide is not named after the package: almalinux-release provides `system-release(releasever) = 9`).
 * Without one (dnf would leave `$releasever` as written), os-release VERSION_ID's major number
 * ("9.4" → "9"), what RHEL-like release packages provide.
 */
async function detectReleasever(fs: BackendFiles, system: RpmSystem = {}): Promise<string | undefined> {
  for (const p of ["/etc/dnf/vars/releasever", "/etc/yum/vars/releasever"]) {
    const v = (await fileText(fs, p))?.split("\n")[0]?.trim();
    if (v) return v;
  }
  const headers = (system.installed ?? []).flatMap((p) => {
    try {
      return [rpmRecord(p).header];
    } catch {
      return [];
    }
  });
  for (const want of DISTROVERPKG) {
    for (const h of headers) {
      const prov = h.provides.find((d) => d.name === want);
      if (!prov) continue;
      if (prov.flags === SENSE.EQUAL && prov.version !== "" && h.name !== want) return prov.version;
      return h.version;
    }
  }
  let versionId = system.versionId;
  if (versionId === undefined) {
    const osr = (await fileText(fs, "/etc/os-release")) ?? (await fileText(fs, "/usr/lib/os-release"));
    versionId = /^VERSION_ID=["']?([^"'\n]*)/m.exec(osr ?? "")?.[1];
  }
  return versionId ? versionId.split(".")[0] : undefined;
}

/** The public keys of every readable file in the image's /etc/pki/rpm-gpg (for `--repository`). */
async function imageKeyDir(fs: BackendFiles): Promise<RpmKey[]> {
  let names: string[];
  try {
    names = (await fs.readdir(KEY_DIR)).sort();
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return [];
    throw e;
  }
  const out: RpmKey[] = [];
  for (const n of names) {
    const st = await fs.stat(`${KEY_DIR}/${n}`);
    if (st?.type !== "file") continue;
    out.push(
      ...(await readRpmKeys(await fs.readFile(`${KEY_DIR}/${n}`), `${KEY_DIR}/${n} (${fs.description})`)),
    );
  }
  return out;
}

/** `--keyring` files of this machine. */
async function keyringKeys(files: readonly string[]): Promise<RpmKey[]> {
  const out: RpmKey[] = [];
  for (const f of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(f);
    } catch (e) {
      throw new OcipatchError("IO", `keyring ${f}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`, {
        cause: e,
        details: { option: "keyrings" },
      });
    }
    out.push(...(await readRpmKeys(bytes, `keyring ${f}`)));
  }
  return out;
}

const urlKey = (url: string): string => createHash("sha256").update(url).digest("hex").slice(0, 32);

/** Write `bytes` to `path` atomically (unique temporary name); a failed write leaves nothing. */
async function writeAtomic(path: string, bytes: Buffer): Promise<void> {
  const part = partialSibling(path);
  try {
    await writeFile(part, bytes);
    await rename(part, path);
  } catch {
    await rm(part, { force: true }).catch(() => undefined);
  }
}

interface Source {
  readonly id: string;
  readonly baseurls: readonly string[];
  /** A repository without a baseurl: its `mirrorlist=`/`metalink=` and how to substitute mirror URLs. */
  readonly list?: {
    readonly url: string;
    readonly kind: "mirrorlist" | "metalink";
    readonly subst: (s: string) => string;
  };
  readonly gpgcheck: boolean;
  readonly repoGpgcheck: boolean;
  readonly keys: readonly RpmKey[];
}

/** The repositories to read: `--repository` URLs, else the image's enabled ones. */
async function sources(
  fs: BackendFiles,
  opts: RepositoryOptions,
  vars: { releasever?: string; basearch: string },
  warnings: string[],
): Promise<Source[]> {
  const extra = await keyringKeys(opts.config?.keyrings ?? []);
  const configured = opts.repositories ?? [];
  if (configured.length > 0) {
    for (const u of configured)
      if (!/^https?:\/\/[^/]/i.test(u))
        throw new OcipatchError("USAGE", `rpm repository ${redactUrl(u)}: not an http(s) URL`, {
          details: { option: "repositories" },
        });
    const keys = [...(await imageKeyDir(fs)), ...extra];
    // packages must be signed by the image's keys (or --keyring); repomd.xml is not required to be
    return [...new Set(configured.map((u) => u.replace(/\/+$/, "")))].map((u) => ({
      id: redactUrl(u),
      baseurls: [u],
      gpgcheck: true,
      repoGpgcheck: false,
      keys,
    }));
  }
  const base: Record<string, string> = { basearch: vars.basearch, arch: vars.basearch };
  if (vars.releasever !== undefined) base["releasever"] = vars.releasever;
  const out: Source[] = [];
  const all: RpmRepo[] = await readImageRepos(fs, base);
  const repoVars = await readRepoVars(fs, base);
  for (const r of all) {
    if (!r.enabled) continue;
    const urls = r.baseurls.filter((u) => /^https?:\/\/[^/]/i.test(u)).map((u) => u.replace(/\/+$/, ""));
    for (const u of r.baseurls)
      if (!/^https?:\/\//i.test(u))
        warnings.push(`rpm repository [${r.id}] ${redactUrl(u)} is not an http(s) URL: not used`);
    let list: Source["list"];
    if (urls.length === 0) {
      if (r.baseurls.length > 0) continue;
      // dnf: metalink= over mirrorlist=; librepo substitutes variables in the mirrors' URLs too
      const kind = r.metalink ? "metalink" : "mirrorlist";
      const listUrl = (r.metalink ?? r.mirrorlist) as string;
      if (!/^https?:\/\/[^/]/i.test(listUrl))
        throw new OcipatchError(
          "UNSUPPORTED",
          `${r.origin} [${r.id}]: ${kind} ${redactUrl(listUrl)} is not an http(s) URL: give a repository URL`,
          { details: { option: "repositories" } },
        );
      list = { url: listUrl, kind, subst: (s) => substituteVars(s, repoVars) };
    }
    if (/\$[A-Za-z{]/.test([...urls, list?.url ?? ""].join(" ")))
      throw new OcipatchError(
        "UNSUPPORTED",
        `${r.origin} [${r.id}]: unknown variable in ${redactUrl(urls[0] ?? list?.url ?? "")}: give a repository URL`,
        { details: { option: "repositories" } },
      );
    const keys = r.gpgcheck || r.repoGpgcheck ? [...(await readRepoKeys(fs, r)), ...extra] : extra;
    if (!r.gpgcheck)
      warnings.push(
        `rpm repository [${r.id}] has gpgcheck=0: its packages' signatures are not checked (only their checksums)`,
      );
    out.push({
      id: r.id,
      baseurls: urls,
      ...(list ? { list } : {}),
      gpgcheck: r.gpgcheck,
      repoGpgcheck: r.repoGpgcheck,
      keys,
    });
  }
  if (out.length === 0)
    throw new OcipatchError(
      "USAGE",
      `${fs.description}: no enabled rpm repository with a baseurl, mirrorlist or metalink in /etc/yum.repos.d: give a repository URL`,
      { details: { option: "repositories" } },
    );
  return out;
}

/** GET a metadata file; undefined for 404/410. */
async function getMeta(
  url: string,
  maxBytes: number,
  signal: AbortSignal | undefined,
): Promise<Buffer | undefined> {
  const got = await getBytes(url, { signal, maxBytes, userAgent: USER_AGENT });
  return got === "not-found" ? undefined : got;
}

/** Stream `url` into `part`, bounded by repomd's size; a broken connection is retried. */
async function download(
  url: string,
  part: string,
  max: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const r = await getWithRetries(url, { signal, userAgent: USER_AGENT }, async (body) => {
    let n = 0;
    const out = createWriteStream(part);
    try {
      await pipeline(
        body,
        async function* (src) {
          for await (const c of src) {
            n += (c as Buffer).length;
            if (n > max)
              throw new OcipatchError(
                "DIGEST_MISMATCH",
                `${redactUrl(url)}: larger than the ${max} bytes repomd.xml gives`,
              );
            yield c as Buffer;
          }
        },
        out,
      );
    } catch (e) {
      await discard(out); // the caller removes the part
      if (isOcipatchError(e)) throw e;
      throw retryableFailure(`GET ${redactUrl(url)}: connection broke after ${n} bytes`, e);
    }
    return n;
  });
  if (r.kind !== "ok")
    throw new OcipatchError(
      "NOT_FOUND",
      `${redactUrl(url)}: ${r.kind === "not-found" ? `HTTP ${r.status}` : "unexpected HTTP 304"} (the repository changed while it was read?)`,
    );
  return r.value;
}

/** primary.xml of one repository: from the cache (by checksum, verified again) or downloaded. */
async function loadPrimary(
  baseurl: string,
  data: RepomdData,
  where: string,
  filter: (p: RepoPackage) => boolean,
  opts: RepositoryOptions,
  signal: AbortSignal | undefined,
): Promise<{ packages: RepoPackage[]; fetched: number }> {
  const ext = /\.xml(?:\.(?:gz|xz|zst))?$/.exec(data.location)?.[0] ?? ".xml";
  const dir = opts.cacheDir ?? (await mkdtemp(join(tmpdir(), "ocipatch-rpm-")));
  const file = join(dir, `rpm-primary-${data.checksum.value.slice(0, 64)}${ext}`);
  try {
    await mkdir(dir, { recursive: true });
    const cached = await stat(file).then(
      (st) => st.isFile(),
      () => false,
    );
    if (cached) {
      try {
        return {
          packages: await readPrimary(createReadStream(file), data, `${where} (cached)`, { filter, signal }),
          fetched: 0,
        };
      } catch (e) {
        await rm(file, { force: true });
        if (opts.offline) throw e;
      }
    }
    if (opts.offline)
      throw new OcipatchError("NOT_FOUND", `${where}: ${data.location} is not cached (offline)`);
    const url = `${baseurl}/${data.location}`;
    const part = partialSibling(file);
    try {
      const n = await download(url, part, data.size ?? MAX_PRIMARY_BYTES, signal);
      const packages = await readPrimary(createReadStream(part), data, `${where}: ${redactUrl(url)}`, {
        filter,
        signal,
      });
      if (opts.cacheDir) await rename(part, file);
      return { packages, fetched: n };
    } finally {
      await rm(part, { force: true }).catch(() => undefined);
    }
  } finally {
    if (!opts.cacheDir) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

const listCacheFile = (dir: string, url: string) => join(dir, `rpm-mirrors-${urlKey(url)}`);

/** The mirror list of a repository without a baseurl: fetched, or from the cache when offline. */
async function loadMirrorList(
  src: Source,
  list: NonNullable<Source["list"]>,
  opts: RepositoryOptions,
  signal: AbortSignal | undefined,
): Promise<{ bytes: Buffer; parsed: MirrorList; fetched: number }> {
  const where = `rpm repository [${src.id}] ${list.kind} ${redactUrl(list.url)}`;
  let bytes: Buffer | undefined;
  let fetched = 0;
  if (opts.offline) {
    bytes = opts.cacheDir
      ? await readFile(listCacheFile(opts.cacheDir, list.url)).catch(undefinedIfNotFound)
      : undefined;
    if (!bytes) throw new OcipatchError("NOT_FOUND", `${where}: not cached (offline)`);
  } else {
    try {
      bytes = await getMeta(list.url, MAX_MIRRORLIST_BYTES, signal);
    } catch (e) {
      // say which repository's list failed (the message names the URL, redacted)
      if (!isOcipatchError(e) || e.code === "CANCELLED") throw e;
      throw new OcipatchError(e.code, `rpm repository [${src.id}] ${list.kind}: ${e.message}`, { cause: e });
    }
    if (!bytes) throw new OcipatchError("NOT_FOUND", `${where}: HTTP 404`);
    fetched = bytes.length;
  }
  const parsed = parseMirrors(bytes, list.kind, where, list.subst);
  if (parsed.mirrors.length === 0)
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${where}: no http(s) mirror in it${parsed.skipped > 0 ? ` (${parsed.skipped} other URLs skipped)` : ""}`,
    );
  return { bytes, parsed, fetched };
}

/** Failures worth trying the next mirror or baseurl for (dnf moves on as well). */
const MIRROR_FAILURES = new Set(["NETWORK", "TIMEOUT", "AUTH_FAILED", "INVALID_FORMAT", "NOT_FOUND"]);

/**
 * repomd.xml (and its signature when asked for) from the first of `baseurls` that serves it (from
 * the cache when offline); with a metalink, only one whose digest the metalink lists.
 */
async function loadRepomd(
  src: Source,
  baseurls: readonly string[],
  hashes: MirrorList["hashes"],
  opts: RepositoryOptions,
  signal: AbortSignal | undefined,
): Promise<{ baseurl: string; repomd: Buffer; asc: Buffer | undefined; fetched: number }> {
  let last: OcipatchError | undefined;
  let mismatched = 0;
  let fetched = 0;
  for (const baseurl of baseurls) {
    const url = `${baseurl}/repodata/repomd.xml`;
    const cache = opts.cacheDir ? join(opts.cacheDir, `rpm-repomd-${urlKey(url)}.xml`) : undefined;
    let repomd: Buffer | undefined;
    let asc: Buffer | undefined;
    if (opts.offline) {
      repomd = cache ? await readFile(cache).catch(undefinedIfNotFound) : undefined;
      if (!repomd) {
        last = new OcipatchError("NOT_FOUND", `${redactUrl(url)}: not cached (offline)`);
        continue;
      }
      asc = src.repoGpgcheck && cache ? await readFile(`${cache}.asc`).catch(undefinedIfNotFound) : undefined;
    } else {
      try {
        repomd = await getMeta(url, MAX_REPOMD_BYTES, signal);
      } catch (e) {
        if (baseurls.length === 1 || !isOcipatchError(e) || !MIRROR_FAILURES.has(e.code)) throw e;
        last = e;
        continue;
      }
      if (!repomd) {
        last = new OcipatchError(
          "NOT_FOUND",
          `rpm repository [${src.id}] has no repodata/repomd.xml at ${redactUrl(baseurl)} (HTTP 404)`,
        );
        continue;
      }
      fetched += repomd.length;
    }
    if (hashes.length > 0 && !repomdMatches(repomd, hashes)) {
      // a mirror not yet synced (or lying): the metalink is the trust anchor for repomd.xml
      mismatched++;
      continue;
    }
    if (!opts.offline && src.repoGpgcheck) {
      asc = await getMeta(`${url}.asc`, MAX_ASC_BYTES, signal);
      fetched += asc?.length ?? 0;
    }
    return { baseurl, repomd, asc, fetched };
  }
  if (mismatched > 0)
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `rpm repository [${src.id}]: no mirror's repomd.xml matches the metalink's digests (${mismatched} of ${baseurls.length} mirrors differ${last ? `; another failed: ${last.message}` : ""})`,
    );
  if (baseurls.length > 1 && last && !opts.offline)
    throw new OcipatchError(
      last.code,
      `rpm repository [${src.id}]: no mirror of ${baseurls.length} served repodata/repomd.xml (last: ${last.message})`,
    );
  throw last ?? new OcipatchError("NOT_FOUND", `rpm repository [${src.id}]: no repository URL`);
}

/** Repositories, keys and verified package lists for one image. */
export async function loadRpmRepositories(
  fs: BackendFiles,
  platform: Platform,
  opts: RepositoryOptions,
  signal?: AbortSignal,
  system: RpmSystem = {},
): Promise<LoadedRpmRepositories> {
  const warnings: string[] = [];
  const basearch = rpmBaseArch(platform);
  const releasever = await detectReleasever(fs, system);
  const srcs = await sources(
    fs,
    opts,
    { basearch, ...(releasever !== undefined ? { releasever } : {}) },
    warnings,
  );
  // the architectures dnf installs on this base architecture (x86_64 repositories carry i686 multilib packages)
  const arches = new Set([basearch, "noarch", ...(basearch === "x86_64" ? ["i686"] : [])]);
  const filter = (p: RepoPackage) => arches.has(p.arch);
  const repos: RpmRepository[] = [];
  let fetched = 0;
  for (const src of srcs) {
    if (src.gpgcheck && src.keys.length === 0)
      throw new OcipatchError(
        "SIGNATURE",
        `rpm repository [${src.id}]: gpgcheck is on but no key is given (gpgkey=file://… or a keyring)`,
        { details: { option: "keyrings" } },
      );
    const list = src.list ? await loadMirrorList(src, src.list, opts, signal) : undefined;
    if (list) fetched += list.fetched;
    const got = await loadRepomd(
      src,
      list ? list.parsed.mirrors : src.baseurls,
      list?.parsed.hashes ?? [],
      opts,
      signal,
    );
    fetched += got.fetched;
    const where = `rpm repository [${src.id}] ${redactUrl(got.baseurl)}`;
    if (src.repoGpgcheck) {
      if (!got.asc)
        throw new OcipatchError(
          "SIGNATURE",
          `${where}: repo_gpgcheck is on but repodata/repomd.xml.asc is missing`,
        );
      await verifyRepomdSignature(got.repomd, got.asc, src.keys, where);
    }
    const md = parseRepomd(got.repomd, `${where}: repomd.xml`);
    const primary = md.data.get("primary");
    if (!primary) throw new OcipatchError("INVALID_FORMAT", `${where}: repomd.xml has no primary data`);
    const { packages, fetched: n } = await loadPrimary(got.baseurl, primary, where, filter, opts, signal);
    fetched += n;
    // repomd.xml is cached only once what it names was verified
    if (opts.cacheDir && !opts.offline) {
      const cache = join(opts.cacheDir, `rpm-repomd-${urlKey(`${got.baseurl}/repodata/repomd.xml`)}.xml`);
      await writeAtomic(cache, got.repomd);
      if (got.asc) await writeAtomic(`${cache}.asc`, got.asc);
      if (src.list && list) await writeAtomic(listCacheFile(opts.cacheDir, src.list.url), list.bytes);
    }
    repos.push({
      id: src.id,
      baseurl: got.baseurl,
      gpgcheck: src.gpgcheck,
      repoGpgcheck: src.repoGpgcheck,
      keys: src.keys,
      revision: md.revision,
      packages,
    });
  }
  return { repos, basearch, releasever, bytesFetched: fetched, warnings };
}
