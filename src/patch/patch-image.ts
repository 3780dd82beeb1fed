import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { backendById, backendViewOptions } from "../backends/registry.js";
import type { BackendPatcher, PatchLayer, RecordCodec, RepositoryOptions } from "../backends/types.js";
import { isOcipatchError, OcipatchError } from "../errors.js";
import type { Image, ImageIndex, ImageOrIndex, Layer } from "../image/image.js";
import { replaceIndexChildren } from "../image/index-builder.js";
import type { Platform } from "../image/manifest.js";
import { type Compression, MediaTypes } from "../image/media-types.js";
import { mutateImage } from "../image/mutate.js";
import { formatPlatform } from "../image/platform.js";
import type { ImageSink, WriteResult } from "../image/sink.js";
import { readInventoryFromFs } from "../inventory/read.js";
import type { Inventory } from "../inventory/types.js";
import type { Plan, PlanMode } from "../plan/types.js";
import { LayeredFs, type LayerIndexCache, type SharedLayers } from "../rootfs/index.js";
import { scanInventory } from "../scan/matcher.js";
import type { ScanResult } from "../scan/types.js";
import { openLocation, openSink, parseImageLocation, type TransportOptions } from "../transport/index.js";
import type { ImageLocation } from "../transport/parse.js";
import { compressorIdentity } from "../util/compression.js";
import type { Digest } from "../util/digest.js";
import type { ProgressListener } from "../util/progress.js";
import { VERSION } from "../version.js";
import type { VulnDatabase } from "../vulndb/index.js";
import { inventoryAfterLayer } from "./after-inventory.js";
import type { BuiltLayerCache } from "./built-layer-cache.js";
import { fetchAndBuild } from "./fetch-and-build.js";
import { checkReportMatches, targetsFromScan } from "./findings.js";
import {
  baseAnnotations,
  PATCH_LABELS,
  type PreviousPatch,
  patchLabels,
  previousPatchLayer,
  refuseAtLayerLimit,
} from "./labels.js";
import { type PlatformJob, selectPlatforms } from "./select-platforms.js";
import { installedKey, type SharedBuilds } from "./shared-builds.js";
import { plannedPackages, type WantedPackage } from "./wanted.js";

export { checkReportMatches, PATCH_LABELS, targetsFromScan };

export interface PatchLog {
  info(message: string): void;
  success(message: string): void;
  warning(message: string): void;
}

export interface PatchRequest {
  /** The image to patch (any transport). */
  readonly source: string;
  /** Where to write the result (any transport); required unless dryRun. */
  readonly destination?: string | undefined;
  /**
   * Write the result here instead of a sink opened on `destination` (which then only names it
   * in messages and reports), e.g. the root filesystem directory of `--output-mode local`.
   */
  readonly sink?: ImageSink | undefined;
  /**
   * Patch only these platforms of an index; the others are kept unchanged in the new index
   * (order and annotations preserved). For a single image: it must match.
   */
  readonly platforms?: readonly Platform[] | undefined;
  readonly mode: PlanMode;
  readonly dryRun?: boolean | undefined;
  readonly ignoreErrors?: boolean | undefined;
  readonly compression?: Compression | undefined;
  readonly db: VulnDatabase;
  /** Findings to fix instead of ocipatch's own scan (from `--vuln-report`). */
  readonly report?: ScanResult | undefined;
  readonly sourceOptions?: TransportOptions | undefined;
  readonly destinationOptions?: TransportOptions | undefined;
  /** Where packages come from: kinds of suites, mirrors and keyrings, index cache, offline. */
  readonly repositories?: RepositoryOptions | undefined;
  /** Scratch space for this run (the caller creates and removes it). */
  readonly workDir: string;
  /** Verified package files are cached here by digest. */
  readonly packageCacheDir: string;
  readonly downloadConcurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
  readonly log?: PatchLog | undefined;
  /**
   * Called when a phase ends: `scanned`, `writing` (the write to the destination starts),
   * `patched` (written), `rescanned`.
   */
  readonly onPhase?: ((phase: "scanned" | "writing" | "patched" | "rescanned") => void) | undefined;
  /** Time recorded in the config, history and database files (default now). */
  readonly now?: Date | undefined;
  /** Patch layers built by the other images of this run (a fleet), reused where they fit. */
  readonly sharedBuilds?: SharedBuilds | undefined;
  /** Layer indexes read by the other images of this run (a fleet), by diffID. */
  readonly sharedLayers?: SharedLayers | undefined;
  /** Patch layers built by earlier runs, reused when their inputs are the same (and stored when built). */
  readonly layerCache?: BuiltLayerCache | undefined;
  /** Image layers' indexes kept across runs: a layer indexed by an earlier run is not read. */
  readonly indexCache?: LayerIndexCache | undefined;
}

export type PlatformStatus = "patched" | "up-to-date" | "planned";

/** What a platform's patch downloaded, and what it needed. */
export interface DownloadAccount {
  /** Body bytes of the package files fetched from the mirror (verified; cached ones not counted). */
  readonly bytes: number;
  /** Package files reused from the cache. */
  readonly fromCache: number;
  /** Package files the plan needed. */
  readonly files: number;
}

export interface PlatformResult {
  readonly platform: string;
  /** Manifest digest of the image as given. */
  readonly sourceDigest: Digest;
  /** Manifest digest of the unpatched original (differs from sourceDigest for a re-patch). */
  readonly baseDigest: Digest;
  readonly replacedPreviousLayer: boolean;
  readonly status: PlatformStatus;
  readonly before: ScanResult;
  readonly plan: Plan;
  readonly built?: PatchLayer | undefined;
  /** The patch layer was built for another image of the run and reused (`sharedBuilds`). */
  readonly layerReused?: boolean | undefined;
  /** The patch layer was built by an earlier run and taken from the layer cache (nothing downloaded). */
  readonly layerFromCache?: boolean | undefined;
  readonly patchedDigest?: Digest | undefined;
  readonly after?: ScanResult | undefined;
  readonly download?: DownloadAccount;
  /** The patched image's package inventory (read for the re-scan; the SBOM referrer is built from it). */
  readonly afterInventory?: Inventory | undefined;
  /** Bytes of repository metadata (signed indices) fetched while planning. */
  readonly indexBytes: number;
}

export interface PatchResult {
  readonly status: "patched" | "up-to-date" | "dry-run";
  readonly source: string;
  readonly sourceDigest: Digest;
  readonly destination: string | undefined;
  readonly written: WriteResult | undefined;
  readonly platforms: readonly PlatformResult[];
}

const noLog: PatchLog = { info() {}, success() {}, warning() {} };

/** The source as given, parsed once. */
interface SourceName {
  readonly input: string;
  readonly location: ImageLocation;
}

/**
 * select platforms → analyze (scan) → plan → fetch → build one layer → append → write → re-scan,
 * for every platform of the source (or the ones asked for). Nothing is written when a step fails
 * or when there is nothing to patch; the caller removes `workDir`.
 */
export async function patchImage(req: PatchRequest): Promise<PatchResult> {
  const log = req.log ?? noLog;
  const signal = req.signal;
  const sourceName: SourceName = { input: req.source, location: parseImageLocation(req.source) };
  const source = await openLocation(req.source, { ...req.sourceOptions, signal });
  const layerCache = join(req.workDir, "layers");
  await mkdir(layerCache, { recursive: true });
  const jobs = await selectPlatforms(source, req.platforms, layerCache, signal);
  // the new layer must fit under the layer limit: refused before any layer is read
  if (!req.dryRun) for (const job of jobs) await refuseAtLayerLimit(job.image);

  const states: AnalyzedPlatform[] = [];
  try {
    for (const job of jobs) states.push(await analyzePlatform(job, req, log));
    req.onPhase?.("scanned");
    const results: PlatformResult[] = [];
    const patched = new Map<Digest, Image>();
    for (const st of states) {
      const r = await patchPlatform(st, sourceName, req, log);
      results.push(r.result);
      if (r.image) patched.set(st.job.childDigest ?? st.job.image.digest, r.image);
    }

    const finish = (status: PatchResult["status"], written?: WriteResult): PatchResult => ({
      status,
      source: req.source,
      sourceDigest: source.digest,
      destination: status === "patched" ? req.destination : undefined,
      written,
      platforms: results,
    });
    if (req.dryRun) return finish("dry-run");
    if (patched.size === 0) return finish("up-to-date");
    if (req.destination === undefined)
      throw new OcipatchError("USAGE", "no destination for the patched image");

    const out: ImageOrIndex =
      source.kind === "index"
        ? replaceIndexChildren(source as ImageIndex, patched)
        : [...patched.values()][0]!;
    signal?.throwIfAborted();
    log.info(`Writing ${req.destination}...`);
    req.onPhase?.("writing");
    const sink =
      req.sink ?? openSink(req.destination, { ...req.destinationOptions, signal, progress: req.progress });
    const written = await sink.write(out, { signal, progress: req.progress });
    req.onPhase?.("patched");

    // re-scan what was written
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const img = patched.get(states[i]!.job.childDigest ?? states[i]!.job.image.digest);
      if (!img || !r.built) continue;
      const { scan, inventory } = await rescan(states[i]!, r.built, img, r.platform, req);
      results[i] = {
        ...r,
        after: scan,
        afterInventory: inventory,
        patchedDigest: source.kind === "image" ? written.digest : img.digest,
      };
    }
    req.onPhase?.("rescanned");
    return finish("patched", written);
  } finally {
    for (const st of states) await st.close();
  }
}

/**
 * A filesystem view that keeps every backend's small files (databases, repositories, keys) in
 * memory, and the summaries their patchers ask for (ldconfig's reading of the libraries).
 */
function openFs(layers: readonly Layer[], description: string, req: PatchRequest): LayeredFs {
  return new LayeredFs(layers, description, {
    ...backendViewOptions(),
    scratchDir: req.workDir,
    ...(req.sharedLayers ? { sharedLayers: req.sharedLayers } : {}),
    ...(req.indexCache ? { indexCache: req.indexCache } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  });
}

async function scanFs(fs: LayeredFs, image: Image, platform: string, reference: string, req: PatchRequest) {
  const inventory = await readInventoryFromFs(fs, { unsupported: "error" });
  return { inventory, scan: scanOf(inventory, image, platform, reference, req) };
}

function scanOf(inventory: Inventory, image: Image, platform: string, reference: string, req: PatchRequest) {
  return scanInventory(inventory, req.db, {
    target: { type: "image", reference, digest: image.digest, platform },
  });
}

/**
 * The scan of the patched image. Its packages are known without reading a layer: the inventory
 * the layer was built against plus the records the layer wrote. Only when the layer also changes
 * what the inventory derives from other files (the OS release files...) is the image read again:
 * the same base layers (cached locally) plus the new layer.
 */
async function rescan(
  st: AnalyzedPlatform,
  built: PatchLayer,
  image: Image,
  platform: string,
  req: PatchRequest,
): Promise<{ scan: ScanResult; inventory: Inventory }> {
  const reference = req.destination ?? req.source;
  const known = await inventoryAfterLayer(st.inventory, built);
  if (known) return { inventory: known, scan: scanOf(known, image, platform, reference, req) };
  const afterFs = openFs(await image.layers({ signal: req.signal }), `${image.description} (patched)`, req);
  try {
    return await scanFs(afterFs, image, platform, reference, req);
  } finally {
    await afterFs.close();
  }
}

/** One platform after the analysis: what it has, what is vulnerable, and the view to build against. */
interface AnalyzedPlatform {
  readonly job: PlatformJob;
  readonly platform: Platform;
  /** `os/arch[/variant]`, for messages and reports. */
  readonly platformName: string;
  readonly previous: PreviousPatch | undefined;
  readonly before: ScanResult;
  /** For a re-patch: the scan of the original (without the previous ocipatch layer). */
  readonly baseScan: ScanResult | undefined;
  /** The view to plan and build against (without a previous ocipatch layer). */
  readonly fs: LayeredFs;
  readonly inventory: Inventory;
  close(): Promise<void>;
}

async function analyzePlatform(
  job: PlatformJob,
  req: PatchRequest,
  log: PatchLog,
): Promise<AnalyzedPlatform> {
  const signal = req.signal;
  const image = job.image;
  const config = await image.configFile({ signal });
  const platform: Platform = { os: config.os, architecture: config.architecture, variant: config.variant };
  const platformName = formatPlatform(platform);
  const layers = await image.layers({ signal });
  const previous = await previousPatchLayer(image);
  const inputFs = openFs(layers, image.description, req);
  let fs = inputFs;
  try {
    const { inventory: inputInventory, scan: before } = await scanFs(
      inputFs,
      image,
      platformName,
      req.source,
      req,
    );
    let inventory = inputInventory;
    let baseScan: ScanResult | undefined;
    if (previous) {
      // plan and build against the original: the new layer replaces the previous one
      log.info(`${platformName}: the top layer is a previous ocipatch layer; it will be replaced`);
      fs = openFs(layers.slice(0, -1), `${image.description} (without the ocipatch layer)`, req);
      inventory = await readInventoryFromFs(fs, { unsupported: "error" });
      // what to fix is what the ORIGINAL has: the new layer replaces the previous one
      baseScan = scanInventory(inventory, req.db, {
        target: { type: "image", reference: req.source, digest: image.digest, platform: platformName },
      });
    }
    for (const w of before.warnings) log.warning(w);
    return {
      job,
      platform,
      platformName,
      previous,
      before,
      baseScan,
      fs,
      inventory,
      close: async () => {
        if (fs !== inputFs) await fs.close();
        await inputFs.close();
      },
    };
  } catch (e) {
    if (fs !== inputFs) await fs.close();
    await inputFs.close();
    throw e;
  }
}

/**
 * The patching half of the image's package backend and the codec of its database records (the
 * layer cache stores them), or a clear "not yet" for its format.
 */
function patchingBackend(st: AnalyzedPlatform): {
  patcher: BackendPatcher;
  records: RecordCodec | undefined;
} {
  const pm = st.inventory.packageManager;
  const backend = pm === "none" ? undefined : backendById(pm);
  if (!backend?.patcher) {
    throw new OcipatchError(
      "UNSUPPORTED",
      `${st.platformName}: ocipatch cannot patch ${backend ? `${backend.displayName} images` : "an image without a package database"} yet`,
    );
  }
  return { patcher: backend.patcher, records: backend.records };
}

async function patchPlatform(
  st: AnalyzedPlatform,
  sourceName: SourceName,
  req: PatchRequest,
  log: PatchLog,
): Promise<{ result: PlatformResult; image: Image | undefined }> {
  const { fs, inventory, platformName: name, previous, before } = st;
  const image = st.job.image;
  if (req.report) checkReportMatches(req.report, inventory, name);
  const { patcher, records } = patchingBackend(st);

  // plan
  const planned = await patcher
    .plan({
      fs,
      inventory,
      platform: st.platform,
      targets: targetsFromScan(req.report ?? st.baseScan ?? before),
      mode: req.mode,
      ignoreErrors: req.ignoreErrors ?? false,
      repositories: req.repositories ?? {},
      signal: req.signal,
      progress: req.progress,
    })
    .catch((e: unknown) => {
      if (isOcipatchError(e)) throw e;
      throw new OcipatchError("RESOLVE", `planning failed: ${(e as Error).message}`, { cause: e });
    });
  for (const w of planned.plan.warnings) log.warning(w);
  const base: Omit<PlatformResult, "status"> = {
    platform: name,
    sourceDigest: image.digest,
    baseDigest: previous?.baseDigest ?? image.digest,
    replacedPreviousLayer: previous !== undefined,
    before,
    plan: planned.plan,
    indexBytes: planned.indexBytes,
  };
  if (planned.plan.updates.length + planned.plan.newPackages.length === 0) {
    // for a re-patch: everything the previous layer fixed is still the newest, it is kept as is
    log.info(`${name}: ${previous ? "nothing new to patch" : "nothing to patch"}`);
    return { result: { ...base, status: "up-to-date" }, image: undefined };
  }
  if (req.dryRun) return { result: { ...base, status: "planned" }, image: undefined };

  const wanted = plannedPackages(planned.plan, inventory);
  const cacheKey = layerCacheKey(st, wanted, req);
  const cached = cacheKey === undefined ? undefined : await fromLayerCache(st, cacheKey, records, req, log);
  if (cached) {
    log.info(`${name}: the same patch layer was built by an earlier run; taken from the layer cache`);
    for (const w of cached.warnings) log.warning(w);
    const patchedImage = await appendLayer(image, cached, previous, sourceName, req);
    return {
      result: {
        ...base,
        status: "patched",
        built: cached,
        layerFromCache: true,
        patchedDigest: patchedImage.digest,
        // no package file was needed
        download: { bytes: 0, fromCache: 0, files: 0 },
      },
      image: patchedImage,
    };
  }

  // fetch, and build the one layer while the later packages download
  const target = {
    platformName: name,
    fs: st.fs,
    platform: st.platform,
    inventory: st.inventory,
    manifestMediaType: image.mediaType,
  };
  const opts = { ...req, compression: compressionOf(req) };
  const fetched = await fetchAndBuild(patcher, target, planned.plan, wanted, opts, log);
  const { layer: built, reused } = fetched;
  if (built === undefined) {
    log.info(`${name}: nothing left to patch`);
    return { result: { ...base, plan: fetched.plan, status: "up-to-date" }, image: undefined };
  }
  if (reused) log.info(`${name}: the same patch layer was built for another image of this run; reused`);
  for (const w of built.warnings) log.warning(w);
  // the key names every package the plan wanted: a layer built without some of them is not stored;
  // nor one built for another image of the run (reused on the run's own, wider terms)
  if (req.layerCache && cacheKey !== undefined && fetched.plan === planned.plan && !reused)
    await req.layerCache
      .put(cacheKey, records, built, req.signal)
      .catch((e: unknown) =>
        log.warning(`${name}: the patch layer was not stored in the layer cache: ${(e as Error).message}`),
      );

  // append
  const patchedImage = await appendLayer(image, built, previous, sourceName, req);
  return {
    result: {
      ...base,
      plan: fetched.plan,
      status: "patched",
      built,
      ...(reused ? { layerReused: true } : {}),
      patchedDigest: patchedImage.digest,
      download: fetched.account,
    },
    image: patchedImage,
  };
}

/** The new layer's compression (gzip unless asked). */
function compressionOf(req: PatchRequest): Compression {
  return req.compression ?? "gzip";
}

/**
 * The layer cache's key for this platform's layer: what the build depends on — the image layers
 * it reads (by diffID), the package files (by the digest the signed index gives), the packages
 * they upgrade or replace, the output format and its compressor, and the layer's time. Undefined
 * without a cache, when a file has no digest to name it by, or without the compressor.
 */
function layerCacheKey(st: AnalyzedPlatform, wanted: readonly WantedPackage[], req: PatchRequest) {
  if (!req.layerCache) return undefined;
  const compression = compressionOf(req);
  const compressor = compressorIdentity(compression);
  if (compressor === undefined) return undefined;
  const packages = [];
  for (const w of wanted) {
    const file = w.item.sha256 || w.item.checksum;
    if (!file) return undefined;
    const { package: name, architecture, version } = w.item;
    packages.push([
      name,
      architecture,
      version,
      file,
      w.installed ? installedKey(w.installed) : null,
      w.replaces.map(installedKey),
    ]);
  }
  return req.layerCache.key({
    backend: st.inventory.packageManager,
    layers: st.fs.layers.map((l) => l.diffId),
    compression,
    compressor,
    manifestMediaType: st.job.image.mediaType,
    now: req.now?.toISOString() ?? null,
    // read by the backends for the layer's time
    sourceDateEpoch: process.env["SOURCE_DATE_EPOCH"] ?? null,
    packages,
  });
}

/**
 * The layer an earlier run stored under `key`, copied into this run's scratch space. A cache that
 * cannot be read is only a miss (with a warning): the layer is built.
 */
async function fromLayerCache(
  st: AnalyzedPlatform,
  key: string,
  records: RecordCodec | undefined,
  req: PatchRequest,
  log: PatchLog,
): Promise<PatchLayer | undefined> {
  const dir = await mkdtemp(join(req.workDir, "layer-"));
  try {
    const got = await req.layerCache!.get(key, records, join(dir, "layer.tar"), req.signal);
    if (got.problem) log.warning(`${st.platformName}: ${got.problem}`);
    if (got.layer) return got.layer;
  } catch (e) {
    req.signal?.throwIfAborted();
    log.warning(
      `${st.platformName}: the layer cache cannot be read (${(e as Error).message}); building the layer`,
    );
  }
  await rm(dir, { recursive: true, force: true });
  return undefined;
}

/** The patched image: the base (without a previous ocipatch layer) plus the new layer, labelled. */
async function appendLayer(
  image: Image,
  built: PatchLayer,
  previous: PreviousPatch | undefined,
  sourceName: SourceName,
  req: PatchRequest,
): Promise<Image> {
  const now = req.now ?? new Date();
  const upgraded = built.packages.filter((p) => p.fromVersion !== undefined).length;
  const added = built.packages.length - upgraded;
  const history = {
    created: now.toISOString(),
    created_by: `ocipatch patch: upgraded ${upgraded} package${upgraded === 1 ? "" : "s"}${added ? `, added ${added}` : ""}`,
    comment: `ocipatch ${VERSION}`,
  };
  // zstd has no Docker media type; an OCI layout or archive holds OCI media types (as skopeo writes them)
  const toOci = req.compression === "zstd" || writesOciLayout(req);
  const isOci = image.mediaType === MediaTypes.ociManifest || toOci;
  const baseDigest = previous?.baseDigest ?? image.digest;
  return mutateImage(
    image,
    {
      dropTopLayers: previous ? 1 : 0,
      append: [built.layer],
      history: [history],
      created: now.toISOString(),
      toOci,
      labels: patchLabels(baseDigest, built.layer.diffId),
      ...(isOci ? { annotations: baseAnnotations(sourceName, baseDigest, previous !== undefined) } : {}),
    },
    { signal: req.signal },
  );
}

/** Is the destination an OCI image layout (`oci:`) or OCI archive (`oci-archive:`)? */
function writesOciLayout(req: PatchRequest): boolean {
  if (req.destination === undefined || req.sink !== undefined) return false;
  const t = parseImageLocation(req.destination).transport;
  return t === "oci" || t === "oci-archive";
}
