import { createHash } from "node:crypto";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { redactUrl } from "../../../util/http/redact.js";
import type { ProgressListener } from "../../../util/progress.js";
import { chunksOf } from "../../../util/streams.js";
import { AptCache, defaultCacheDir } from "./cache.js";
import { decodeError, decompressIndex, type IndexCompression, indexDecoder } from "./decompress.js";
import { EarlyIndex } from "./early-index.js";
import { type FetchStats, type HttpOptions, httpGet, newStats } from "./http.js";
import type { TrustedKey, TrustStore } from "./keyring.js";
import { type IndexOrigin, PackagesIndex } from "./packages.js";
import {
  parseRelease,
  type ReleaseFileEntry,
  type ReleaseInfo,
  type Signer,
  verifyDetachedRelease,
  verifyInRelease,
} from "./release.js";
import type { Repository } from "./repositories.js";

export interface AptClientOptions {
  /** Cache root (default: the user's cache dir, see defaultCacheDir). */
  readonly cacheDir?: string;
  /** Use only cached (verified) files; never touch the network. */
  readonly offline?: boolean;
  /** Refuse Release files past their Valid-Until (default true; like apt's Check-Valid-Until). */
  readonly checkValidUntil?: boolean;
  /** Clock for signature and Valid-Until checks (tests). */
  readonly now?: () => Date;
  readonly http?: HttpOptions;
  readonly progress?: ProgressListener;
}

/** A Release whose signature was verified with a key the image (or configuration) trusts. */
export interface VerifiedRelease {
  readonly repository: Repository;
  readonly url: string;
  readonly info: ReleaseInfo;
  readonly signer: Signer;
  /** apt pin priority: 500, 100 (NotAutomatic + ButAutomaticUpgrades) or 1 (NotAutomatic). */
  readonly priority: number;
}

function sha256hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Whether bytes are the file a signed Release entry names: its size, then its SHA-256. */
function matchesEntry(b: Uint8Array, entry: ReleaseFileEntry): boolean {
  return b.length === entry.size && sha256hex(b) === entry.sha256;
}

function distsBase(repo: Repository): string {
  return repo.suite.endsWith("/")
    ? `${repo.fetchUri}/${repo.suite.replace(/^(\.\/)+/, "").replace(/^\/+/, "")}`
    : `${repo.fetchUri}/dists/${repo.suite}/`;
}

/** The suite a Release must declare (`buster/updates` is published as Codename `buster`). */
function releaseMatchesSuite(info: ReleaseInfo, suite: string): boolean {
  if (suite.endsWith("/")) return true;
  const names = [info.suite, info.codename].filter((x): x is string => x !== undefined);
  if (names.length === 0) return true;
  const base = suite.split("/")[0]!;
  return names.some((n) => n === suite || n === base || n.split("/")[0] === base);
}

function releaseBelongsTo(releaseCodename: string, codename: string): boolean {
  return (
    releaseCodename === codename ||
    releaseCodename.startsWith(`${codename}-`) ||
    releaseCodename.startsWith(`${codename}/`)
  );
}

/** apt's default Acquire::MaxReleaseFileSize: the largest InRelease/Release/Release.gpg accepted. */
const MAX_RELEASE_FILE_BYTES = 10 * 1000 * 1000;

/** One form of a Packages index: the file name's suffix and how it is decoded. */
interface IndexForm {
  readonly suffix: string;
  readonly compression: IndexCompression;
}

const GZ: IndexForm = { suffix: ".gz", compression: "gz" };
const XZ: IndexForm = { suffix: ".xz", compression: "xz" };
const PLAIN: IndexForm = { suffix: "", compression: "none" };

/**
 * The forms of a suite's Packages indices, in the order they are taken when its Release lists
 * several (the first is the one fetched early). A release suite's indices are the whole archive
 * (bookworm main 50 MB decoded, Ubuntu noble's universe 73 MB): gzip first, its file a quarter
 * larger than the xz one but decoded three to four times faster and with a 32 KiB window (noble's
 * universe: 0.65 s against 2.15 s, read, hashed and scanned). Security and updates suites are
 * small, and Debian's list only xz: xz first.
 */
function indexForms(kind: Repository["kind"]): readonly IndexForm[] {
  return kind === "release" ? [GZ, XZ, PLAIN] : [XZ, GZ, PLAIN];
}

/**
 * Fetches and verifies apt repository metadata: InRelease (or Release + Release.gpg), then
 * Packages indices checked against the signed SHA256 list. Nothing unverified is returned or cached.
 */
export class AptClient {
  readonly stats: FetchStats = newStats();
  readonly cache: AptCache;
  private readonly releases = new Map<string, Promise<VerifiedRelease>>();
  private readonly indices = new Map<string, Promise<PackagesIndex | undefined>>();
  /**
   * Packages files (each suite's first form, see indexForms) fetched while their Release was (a
   * cold cache), by URL: see `fetchEarly`.
   */
  private readonly early = new Map<string, EarlyIndex>();

  constructor(
    private readonly trust: TrustStore,
    private readonly opts: AptClientOptions = {},
  ) {
    this.cache = new AptCache(opts.cacheDir ?? defaultCacheDir());
  }

  private now(): Date {
    return this.opts.now ? this.opts.now() : new Date();
  }

  /** Fetch (or revalidate) and verify the repository's Release. Memoised per repository. */
  release(repo: Repository): Promise<VerifiedRelease> {
    return this.releases.get(`${repo.fetchUri} ${repo.suite}`) ?? this.reloadRelease(repo);
  }

  /** Read and verify the repository's Release again (the mirror may have moved on); later calls get this one. */
  private reloadRelease(repo: Repository): Promise<VerifiedRelease> {
    const key = `${repo.fetchUri} ${repo.suite}`;
    const p = this.loadRelease(repo);
    this.releases.set(key, p);
    p.catch(() => {
      if (this.releases.get(key) === p) this.releases.delete(key);
    });
    return p;
  }

  private async fetchList(
    url: string,
  ): Promise<{ body: Buffer | undefined; fromCache: boolean; etag?: string; lastModified?: string }> {
    // InRelease, Release, Release.gpg: apt's Acquire::MaxReleaseFileSize (10 MB)
    const http = { ...this.opts.http, maxBytes: MAX_RELEASE_FILE_BYTES };
    const cached = await this.cache.getList(url);
    if (this.opts.offline) {
      if (!cached) throw new OcipatchError("NOT_FOUND", `offline: ${redactUrl(url)} is not in the cache`);
      this.stats.cacheHits++;
      return { body: cached.body, fromCache: true };
    }
    const res = await httpGet(
      url,
      this.stats,
      cached ? { etag: cached.etag, lastModified: cached.lastModified } : {},
      http,
    );
    if (res.status === 304 && cached) return { body: cached.body, fromCache: true };
    if (res.status === 404) return { body: undefined, fromCache: false };
    if (res.status === 304) {
      // a 304 without anything cached: ask again without validators
      const again = await httpGet(url, this.stats, {}, http);
      return again.status === 200
        ? { body: again.body, fromCache: false, etag: again.etag, lastModified: again.lastModified }
        : { body: undefined, fromCache: false };
    }
    return { body: res.body, fromCache: false, etag: res.etag, lastModified: res.lastModified };
  }

  private async loadRelease(repo: Repository): Promise<VerifiedRelease> {
    const base = distsBase(repo);
    this.opts.progress?.info?.(`Get ${redactUrl(base)}InRelease`);
    const date = this.now();
    const cold = !this.opts.offline && !(await this.cache.hasList(`${base}InRelease`));
    const early = cold ? this.fetchEarly(repo) : [];
    // the InRelease downloads while the keys are read (a keyring's error still comes first)
    const inRelease = this.fetchList(`${base}InRelease`);
    inRelease.catch(() => undefined); // awaited by verifyRelease
    try {
      const keys = await this.trust.keysFor(repo.signedBy, repo.origin, repo.keysFromFallback);
      const verified = await this.verifyRelease(repo, keys, date, inRelease);
      // what the Release lists is read to its signed size, the rest is dropped
      for (const e of early) e.index.bound(verified.info.files.get(e.path)?.size ?? 0);
      return verified;
    } catch (err) {
      for (const e of early) e.index.bound(0);
      throw err;
    }
  }

  /**
   * The repository's Release, its signature verified; its suite, release and dates checked.
   * `inReleaseFetch`: the download of its InRelease, started by the caller.
   */
  private async verifyRelease(
    repo: Repository,
    keys: TrustedKey[],
    date: Date,
    inReleaseFetch: ReturnType<AptClient["fetchList"]>,
  ): Promise<VerifiedRelease> {
    const base = distsBase(repo);
    const where = `${repo.suite} at ${redactUrl(repo.fetchUri)}`;
    let url = `${base}InRelease`;
    let text: string;
    let signer: Signer;
    const inRelease = await inReleaseFetch;
    if (inRelease.body) {
      try {
        ({ text, signer } = await verifyInRelease(inRelease.body, keys, redactUrl(url), { date }));
      } catch (e) {
        if (inRelease.fromCache) await this.cache.dropList(url);
        throw e;
      }
      if (!inRelease.fromCache) {
        await this.cache.putList(url, {
          body: inRelease.body,
          etag: inRelease.etag,
          lastModified: inRelease.lastModified,
        });
      }
    } else {
      url = `${base}Release`;
      const release = await this.fetchList(url);
      if (!release.body) {
        throw new OcipatchError(
          "NOT_FOUND",
          `unknown release ${where}: neither ${redactUrl(base)}InRelease nor Release exists (HTTP 404)`,
        );
      }
      const sigUrl = `${base}Release.gpg`;
      const sig = await this.fetchList(sigUrl);
      if (!sig.body)
        throw new OcipatchError(
          "SIGNATURE",
          `${redactUrl(url)} is not signed (no InRelease, no Release.gpg)`,
        );
      try {
        ({ text, signer } = await verifyDetachedRelease(release.body, sig.body, keys, redactUrl(url), {
          date,
        }));
      } catch (e) {
        if (release.fromCache || sig.fromCache) {
          await this.cache.dropList(url);
          await this.cache.dropList(sigUrl);
        }
        throw e;
      }
      if (!release.fromCache)
        await this.cache.putList(url, {
          body: release.body,
          etag: release.etag,
          lastModified: release.lastModified,
        });
      if (!sig.fromCache)
        await this.cache.putList(sigUrl, { body: sig.body, etag: sig.etag, lastModified: sig.lastModified });
    }
    const info = parseRelease(text, redactUrl(url));
    if (!releaseMatchesSuite(info, repo.suite)) {
      throw new OcipatchError(
        "SIGNATURE",
        `${redactUrl(url)} is for ${info.codename ?? info.suite}, not ${repo.suite} (refusing a Release of another suite)`,
      );
    }
    if (info.codename && !releaseBelongsTo(info.codename, repo.codename)) {
      throw new OcipatchError(
        "UNSUPPORTED",
        `${redactUrl(url)} is ${info.codename} but the image runs ${repo.codename}: refusing packages from another release`,
      );
    }
    const checkValid = repo.checkValidUntil ?? this.opts.checkValidUntil ?? true;
    if (checkValid && info.validUntil && info.validUntil.getTime() < date.getTime()) {
      throw new OcipatchError(
        "SIGNATURE",
        `${redactUrl(url)} expired on ${info.validUntil.toISOString()} (Valid-Until); the mirror is stale or replayed (disable the check with checkValidUntil=false)`,
      );
    }
    const priority = info.notAutomatic ? (info.butAutomaticUpgrades ? 100 : 1) : 500;
    return { repository: repo, url, info, signer, priority };
  }

  /**
   * With no Release of the repository cached (a cold cache), the Packages indices `packages()`
   * will be asked for are fetched while the Release is, instead of after it: `loadPackages` takes
   * one only if it matches the signed Release (size and SHA-256) and downloads it as usual
   * otherwise (a mirror that moved on in between, an index the Release does not list). A failed
   * early fetch is only dropped: the usual download reports what is wrong.
   */
  private fetchEarly(repo: Repository): Array<{ path: string; index: EarlyIndex }> {
    if (repo.suite.endsWith("/")) return [];
    const base = distsBase(repo);
    const out: Array<{ path: string; index: EarlyIndex }> = [];
    const suffix = indexForms(repo.kind)[0]!.suffix;
    for (const component of repo.components) {
      for (const arch of repo.architectures) {
        const path = `${component}/binary-${arch}/Packages${suffix}`;
        const url = `${base}${path}`;
        if (this.early.has(url)) continue;
        this.opts.progress?.info?.(`Get ${redactUrl(url)}`);
        const index = new EarlyIndex(url, this.stats, this.opts.http);
        this.early.set(url, index);
        out.push({ path, index });
      }
    }
    return out;
  }

  /** The early copy of `url`, once (see fetchEarly); undefined when there is none or it failed. */
  private async takeEarly(url: string): Promise<Buffer | undefined> {
    const e = this.early.get(url);
    if (e === undefined) return undefined;
    this.early.delete(url);
    return e.body;
  }

  /**
   * The Packages index of one component and architecture, verified against the signed Release.
   * Undefined when the Release does not list it (e.g. an architecture the suite does not carry).
   */
  packages(
    release: VerifiedRelease,
    component: string,
    architecture: string,
  ): Promise<PackagesIndex | undefined> {
    const key = `${release.url} ${component} ${architecture}`;
    let p = this.indices.get(key);
    if (!p) {
      p = this.loadPackages(release, component, architecture);
      this.indices.set(key, p);
      p.catch(() => this.indices.delete(key));
    }
    return p;
  }

  private async loadPackages(
    release: VerifiedRelease,
    component: string,
    architecture: string,
  ): Promise<PackagesIndex | undefined> {
    const repo = release.repository;
    const flat = repo.suite.endsWith("/");
    const rel = flat ? "Packages" : `${component}/binary-${architecture}/Packages`;
    const origin: IndexOrigin = {
      uri: repo.uri,
      fetchUri: repo.fetchUri,
      suite: repo.suite,
      kind: repo.kind,
      component,
      architecture,
      priority: release.priority,
    };
    const where = `${repo.suite}/${rel}`;
    // A mirror caught mid-update serves a Packages file that no longer matches the InRelease
    // read a moment ago: read InRelease again (it may list a new snapshot's hashes) and fetch
    // the file once more (by-hash first, which is immutable), then give up. A form the Release
    // lists but the mirror does not have is skipped for the next one listed, as apt does.
    let current = release;
    let attempt = 1;
    /** The forms the mirror answered 404 for, and that error. */
    const missing = new Map<IndexForm, OcipatchError>();
    for (;;) {
      const plain = current.info.files.get(rel);
      if (plain && (await this.cache.hasIndex(plain.sha256, plain.size))) {
        this.stats.cacheHits++;
        return PackagesIndex.fromFile(this.cache.indexPath(plain.sha256), plain.size, origin, where);
      }
      const listed = indexForms(repo.kind).filter((f) => current.info.files.has(`${rel}${f.suffix}`));
      if (listed.length === 0) return undefined;
      if (this.opts.offline) {
        throw new OcipatchError(
          "NOT_FOUND",
          `offline: ${where} from ${redactUrl(repo.fetchUri)} is not in the cache`,
        );
      }
      const form = listed.find((f) => !missing.has(f));
      if (form === undefined) throw missing.values().next().value!;
      const path = `${rel}${form.suffix}`;
      const compression = form.compression;
      const entry = current.info.files.get(path)!;
      const plainUrl = `${distsBase(repo)}${path}`;
      const early = await this.takeEarly(plainUrl);
      if (early && matchesEntry(early, entry))
        return this.indexFrom(early, compression, plainUrl, plain, rel, origin, where);
      let url = plainUrl;
      try {
        const got = await this.fetchIndexFile(current, path, entry);
        url = got.url;
        if (matchesEntry(got.body, entry)) {
          return this.indexFrom(got.body, compression, got.url, plain, rel, origin, where);
        }
        if (attempt >= 2) {
          throw new OcipatchError(
            "DIGEST_MISMATCH",
            `${redactUrl(got.url)} does not match the signed Release: sha256 ${sha256hex(got.body)} (${got.body.length} bytes), expected ${entry.sha256} (${entry.size} bytes), twice (InRelease read again in between)`,
          );
        }
      } catch (e) {
        if (isOcipatchError(e, "NOT_FOUND")) {
          missing.set(form, e);
          if (listed.some((f) => !missing.has(f))) {
            this.opts.progress?.info?.(`${e.message}; taking another form the Release lists`);
          }
          continue;
        }
        // longer than the signed size: the same symptom, refused while downloading
        if (attempt >= 2 || !isOcipatchError(e, "DIGEST_MISMATCH")) throw e;
      }
      this.opts.progress?.info?.(
        `${redactUrl(url)} does not match the signed Release; reading the Release again and fetching it again`,
      );
      current = await this.reloadRelease(repo);
      attempt++;
    }
  }

  /** One download of an index file named in the Release (by-hash when offered), never beyond its signed size. */
  private async fetchIndexFile(
    release: VerifiedRelease,
    path: string,
    entry: ReleaseFileEntry,
  ): Promise<{ body: Buffer; url: string }> {
    const base = distsBase(release.repository);
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
    const byHashUrl = `${base}${dir}by-hash/SHA256/${entry.sha256}`;
    const plainUrl = `${base}${path}`;
    this.opts.progress?.info?.(`Get ${redactUrl(plainUrl)} (${entry.size} bytes)`);
    // never more than the signed size: a longer body is refused while it downloads
    const get = async (u: string) => {
      try {
        return await httpGet(u, this.stats, {}, { ...this.opts.http, maxBytes: entry.size });
      } catch (e) {
        if (!isOcipatchError(e, "INVALID_FORMAT") || e.details?.["maxBytes"] !== entry.size) throw e;
        throw new OcipatchError(
          "DIGEST_MISMATCH",
          `${redactUrl(u)} does not match the signed Release: larger than the ${entry.size} bytes it lists`,
          { cause: e },
        );
      }
    };
    if (release.info.acquireByHash) {
      const r = await get(byHashUrl);
      if (r.status === 200 && r.body) return { body: r.body, url: byHashUrl };
    }
    const r = await get(plainUrl);
    if (r.status !== 200 || !r.body) {
      throw new OcipatchError(
        "NOT_FOUND",
        `${redactUrl(plainUrl)} is listed in the signed Release but missing (HTTP 404)`,
      );
    }
    return { body: r.body, url: plainUrl };
  }

  /**
   * The verified (compressed) index, decoded. With the plain file's entry in the Release, the
   * decoded bytes go into the cache as they come, checked against it, and are scanned on the way:
   * the index is never held whole (Ubuntu's universe is 73 MB). Without, it is held in memory.
   */
  private async indexFrom(
    body: Buffer,
    compression: IndexCompression,
    url: string,
    plain: ReleaseFileEntry | undefined,
    rel: string,
    origin: IndexOrigin,
    where: string,
  ): Promise<PackagesIndex> {
    const shown = redactUrl(url);
    if (!plain)
      return PackagesIndex.fromBytes(await decompressIndex(body, compression, shown), origin, where);
    const path = this.cache.indexPath(plain.sha256);
    const index = PackagesIndex.fromPieces(origin, where, path);
    const decoded = indexDecoder(body, compression, shown);
    async function* scanned(): AsyncGenerator<Buffer> {
      for await (const b of chunksOf(decoded)) {
        index.push(b);
        yield b;
      }
    }
    try {
      await this.cache.saveIndex(plain, scanned(), `${shown} decompressed (the signed Release's ${rel})`);
    } catch (e) {
      throw decodeError(e, shown);
    }
    return index.finish();
  }
}
