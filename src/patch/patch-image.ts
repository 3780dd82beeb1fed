import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { debianArchitecture } from "../backends/dpkg/apt/architecture.js";
import type { AptConfig } from "../backends/dpkg/apt/config.js";
import type { SuiteKind } from "../backends/dpkg/apt/packages.js";
import { APT_CAPTURE_PATTERNS, imageKeyringFiles, readAptFiles } from "../backends/dpkg/apt-files.js";
import {
  type BuildPatchLayerResult,
  buildPatchLayer,
  type DebToInstall,
} from "../backends/dpkg/build/index.js";
import { packageKey } from "../backends/dpkg/db/package-key.js";
import { type DebDownload, type DebVanished, downloadDebs } from "../backends/dpkg/download.js";
import { planForImage } from "../backends/dpkg/plan/plan-for-image.js";
import { isOcipatchError, OcipatchError } from "../errors.js";
import { withCachedLayers } from "../image/cached-layer.js";
import type { Image, ImageIndex, ImageOrIndex, Layer } from "../image/image.js";
import { replaceIndexChildren } from "../image/index-builder.js";
import { MAX_LAYERS, type Platform } from "../image/manifest.js";
import { type Compression, MediaTypes } from "../image/media-types.js";
import { mutateImage } from "../image/mutate.js";
import { formatPlatform, platformMatches } from "../image/platform.js";
import { platformChildren } from "../image/select.js";
import type { ImageSink, WriteResult } from "../image/sink.js";
import { readInventoryFromFs } from "../inventory/read.js";
import type { Inventory } from "../inventory/types.js";
import type { Plan, PlanMode, UpgradeTarget } from "../plan/types.js";
import { LayeredFs } from "../rootfs/index.js";
import { scanInventory } from "../scan/matcher.js";
import type { ScanResult } from "../scan/types.js";
import { openLocation, openSink, parseImageLocation, type TransportOptions } from "../transport/index.js";
import type { Digest } from "../util/digest.js";
import { redactUrl } from "../util/http/redact.js";
import type { ProgressListener } from "../util/progress.js";
import { VERSION } from "../version.js";
import type { VulnDatabase } from "../vulndb/index.js";
import { dropUnavailable } from "./drop-unavailable.js";

/** Config labels ocipatch writes on a patched image. */
export const PATCH_LABELS = {
  /** Manifest digest of the image before ocipatch's first patch. */
  baseDigest: "io.ocipatch.base.digest",
  /** diffID of the ocipatch layer (the top layer); a re-patch replaces that layer. */
  layer: "io.ocipatch.layer.diffid",
  /** ocipatch version that wrote the layer. */
  version: "io.ocipatch.version",
} as const;

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
  /** Plan only from these kinds of suites (default: release, security and updates). */
  readonly suites?: readonly SuiteKind[] | undefined;
  readonly dryRun?: boolean | undefined;
  readonly ignoreErrors?: boolean | undefined;
  readonly compression?: Compression | undefined;
  readonly db: VulnDatabase;
  /** Findings to fix instead of ocipatch's own scan (from `--vuln-report`). */
  readonly report?: ScanResult | undefined;
  readonly sourceOptions?: TransportOptions | undefined;
  readonly destinationOptions?: TransportOptions | undefined;
  readonly apt?: {
    readonly config?: Pick<AptConfig, "mirrors" | "keyrings" | "checkValidUntil"> | undefined;
    readonly cacheDir?: string | undefined;
    readonly offline?: boolean | undefined;
  };
  /** Scratch space for this run (the caller creates and removes it). */
  readonly workDir: string;
  /** Verified .debs are cached here by SHA256. */
  readonly debCacheDir: string;
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
}

export type PlatformStatus = "patched" | "up-to-date" | "planned";

/** What a platform's patch downloaded, and what it needed. */
export interface DownloadAccount {
  /** Body bytes of the .debs fetched from the mirror (verified; cached ones not counted). */
  readonly bytes: number;
  /** .debs reused from the cache. */
  readonly fromCache: number;
  /** .debs the plan needed. */
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
  readonly built?: BuildPatchLayerResult | undefined;
  readonly patchedDigest?: Digest | undefined;
  readonly after?: ScanResult | undefined;
  readonly download?: DownloadAccount;
  /** The patched image's package inventory (read for the re-scan; the SBOM referrer is built from it). */
  readonly afterInventory?: Inventory | undefined;
  /** Bytes of mirror metadata (InRelease, Packages) fetched while planning. */
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

function platformOf(
  image: Image,
  config: { os: string; architecture: string; variant?: string | undefined },
) {
  void image;
  return formatPlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
}

/** Fixable findings → planner targets (one per source package and id). */
export function targetsFromScan(scan: ScanResult): UpgradeTarget[] {
  const out: UpgradeTarget[] = [];
  for (const f of scan.findings) {
    if (f.fixState !== "fixed" || f.fixedVersion === undefined) continue;
    // ocipatch's own matches carry SOURCE versions; imported reports name binary packages
    out.push(
      scan.target.type === "report"
        ? { package: f.package, fixedVersion: f.fixedVersion, vulnerabilityIds: [f.id] }
        : { sourceName: f.sourceName, fixedVersion: f.fixedVersion, vulnerabilityIds: [f.id] },
    );
  }
  return out;
}

/** An image at the layer limit cannot take one more layer (a previous ocipatch layer is replaced, not added to). */
async function refuseAtLayerLimit(image: Image): Promise<void> {
  const count = (await image.configFile()).rootfs.diff_ids.length;
  if (count < MAX_LAYERS || (await previousPatchLayer(image))) return;
  throw new OcipatchError(
    "UNSUPPORTED",
    `${image.description} has ${count} layers: the patch layer would make ${count + 1}, more than the ${MAX_LAYERS} ocipatch reads (registries commonly allow 127); squash the image first`,
    { details: { layers: count, maxLayers: MAX_LAYERS } },
  );
}

/** Is the top layer of this image one ocipatch wrote? */
async function previousPatchLayer(image: Image): Promise<{ baseDigest: Digest | undefined } | undefined> {
  const config = await image.configFile();
  const labels = (config.config?.["Labels"] ?? {}) as Record<string, string>;
  const diffIds = config.rootfs.diff_ids;
  const top = diffIds[diffIds.length - 1];
  if (top === undefined || labels[PATCH_LABELS.layer] !== top || diffIds.length < 2) return undefined;
  const base = labels[PATCH_LABELS.baseDigest];
  return { baseDigest: base?.startsWith("sha256:") ? (base as Digest) : undefined };
}

interface PlatformJob {
  readonly childDigest: Digest | undefined;
  readonly image: Image;
}

/**
 * Scan → plan → download → build one layer → append → write → re-scan, for every
 * platform of the source (or the one asked for). Nothing is written when a step fails
 * or when there is nothing to patch; the caller removes `workDir`.
 */
export async function patchImage(req: PatchRequest): Promise<PatchResult> {
  const log = req.log ?? noLog;
  const signal = req.signal;
  const source = await openLocation(req.source, { ...req.sourceOptions, signal });
  const layerCache = join(req.workDir, "layers");
  await mkdir(layerCache, { recursive: true });

  const jobs: PlatformJob[] = [];
  if (source.kind === "image") {
    if (req.platforms !== undefined) {
      const cfg = await source.configFile({ signal });
      const have = { os: cfg.os, architecture: cfg.architecture, variant: cfg.variant };
      if (!req.platforms.some((w) => platformMatches(w, have))) {
        throw new OcipatchError(
          "PLATFORM_NOT_FOUND",
          `${source.description} is a single ${formatPlatform(have)} image, not ${req.platforms.map(formatPlatform).join(", ")}`,
        );
      }
    }
    jobs.push({ childDigest: undefined, image: withCachedLayers(source, layerCache) });
  } else {
    const all = platformChildren(source);
    const wanted = req.platforms;
    const picked = all.filter(
      (c) => wanted === undefined || wanted.some((w) => platformMatches(w, c.descriptor.platform)),
    );
    for (const w of wanted ?? []) {
      if (!all.some((c) => platformMatches(w, c.descriptor.platform))) {
        const have = all.map((c) => (c.descriptor.platform ? formatPlatform(c.descriptor.platform) : "?"));
        throw new OcipatchError(
          "PLATFORM_NOT_FOUND",
          `${source.description}: no image for platform ${formatPlatform(w)} (the index has: ${have.join(", ") || "nothing"})`,
        );
      }
    }
    for (const c of picked) {
      const item = await c.load({ signal });
      if (item.kind !== "image") {
        throw new OcipatchError("UNSUPPORTED", `${source.description}: nested indexes are not supported`);
      }
      jobs.push({ childDigest: c.descriptor.digest, image: withCachedLayers(item, layerCache) });
    }
  }

  // the new layer must fit under the layer limit: refused before any layer is read
  if (!req.dryRun) for (const job of jobs) await refuseAtLayerLimit(job.image);

  const states: ScannedPlatform[] = [];
  try {
    for (const job of jobs) states.push(await scanPlatform(job, req, log));
    req.onPhase?.("scanned");
    const results: PlatformResult[] = [];
    const patched = new Map<Digest, Image>();
    for (const st of states) {
      const r = await patchPlatform(st, req, log);
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

    // re-scan what was written: the same base layers (cached locally) plus the new layer
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const img = patched.get(states[i]!.job.childDigest ?? states[i]!.job.image.digest);
      if (!img) continue;
      const afterFs = await openFs(await img.layers({ signal }), `${img.description} (patched)`, req);
      try {
        const { scan, inventory } = await scanFs(afterFs, img, r.platform, req.destination, req);
        results[i] = {
          ...r,
          after: scan,
          afterInventory: inventory,
          patchedDigest: source.kind === "image" ? written.digest : img.digest,
        };
      } finally {
        await afterFs.close();
      }
    }
    req.onPhase?.("rescanned");
    return finish("patched", written);
  } finally {
    for (const st of states) await st.close();
  }
}

async function openFs(layers: readonly Layer[], description: string, req: PatchRequest): Promise<LayeredFs> {
  return new LayeredFs(layers, description, {
    extraCapturePatterns: APT_CAPTURE_PATTERNS,
    scratchDir: req.workDir,
    ...(req.signal ? { signal: req.signal } : {}),
  });
}

async function scanFs(fs: LayeredFs, image: Image, platform: string, reference: string, req: PatchRequest) {
  const inventory = await readInventoryFromFs(fs, { unsupported: "error" });
  const scan = scanInventory(inventory, req.db, {
    target: { type: "image", reference, digest: image.digest, platform },
  });
  return { inventory, scan };
}

interface ScannedPlatform {
  readonly job: PlatformJob;
  readonly platform: string;
  readonly config: Awaited<ReturnType<Image["configFile"]>>;
  readonly previous: { baseDigest: Digest | undefined } | undefined;
  readonly before: ScanResult;
  /** For a re-patch: the scan of the original (without the previous ocipatch layer). */
  readonly baseScan: ScanResult | undefined;
  /** The view to plan and build against (without a previous ocipatch layer). */
  readonly fs: LayeredFs;
  readonly inventory: Inventory;
  close(): Promise<void>;
}

async function scanPlatform(job: PlatformJob, req: PatchRequest, log: PatchLog): Promise<ScannedPlatform> {
  const signal = req.signal;
  const image = job.image;
  const config = await image.configFile({ signal });
  const platform = platformOf(image, config);
  const layers = await image.layers({ signal });
  const previous = await previousPatchLayer(image);
  const inputFs = await openFs(layers, image.description, req);
  let fs = inputFs;
  try {
    const { inventory: inputInventory, scan: before } = await scanFs(
      inputFs,
      image,
      platform,
      req.source,
      req,
    );
    let inventory = inputInventory;
    let baseScan: ScanResult | undefined;
    if (previous) {
      // plan and build against the original: the new layer replaces the previous one
      log.info(`${platform}: the top layer is a previous ocipatch layer; it will be replaced`);
      fs = await openFs(layers.slice(0, -1), `${image.description} (without the ocipatch layer)`, req);
      inventory = await readInventoryFromFs(fs, { unsupported: "error" });
      // what to fix is what the ORIGINAL has: the new layer replaces the previous one
      baseScan = scanInventory(inventory, req.db, {
        target: { type: "image", reference: req.source, digest: image.digest, platform },
      });
    }
    for (const w of before.warnings) log.warning(w);
    return {
      job,
      platform,
      config,
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

async function patchPlatform(
  st: ScannedPlatform,
  req: PatchRequest,
  log: PatchLog,
): Promise<{ result: PlatformResult; image: Image | undefined }> {
  const signal = req.signal;
  const { fs, inventory, config, platform, previous, before } = st;
  const image = st.job.image;
  {
    if (req.report) checkReportMatches(req.report, inventory, platform);
    const targets = targetsFromScan(req.report ?? st.baseScan ?? before);
    const plan = await makePlan(fs, inventory, config, targets, req);
    const indexBytes = plan.stats.bytesDownloaded;
    for (const w of plan.plan.warnings) log.warning(w);
    const base: Omit<PlatformResult, "status"> = {
      platform,
      sourceDigest: image.digest,
      baseDigest: previous?.baseDigest ?? image.digest,
      replacedPreviousLayer: previous !== undefined,
      before,
      plan: plan.plan,
      indexBytes,
    };
    const count = plan.plan.updates.length + plan.plan.newPackages.length;
    if (count === 0) {
      if (previous) {
        // everything the previous layer fixed is still the newest: keep it as is
        log.info(`${platform}: nothing new to patch`);
      } else {
        log.info(`${platform}: nothing to patch`);
      }
      return { result: { ...base, status: "up-to-date" }, image: undefined };
    }
    if (req.dryRun) return { result: { ...base, status: "planned" }, image: undefined };

    // download; with --ignore-errors a .deb the mirror no longer has drops its source group
    let planned = plan.plan;
    const toDownload = (pl: Plan): DebDownload[] =>
      [...pl.updates, ...pl.newPackages].map((u) => ({
        package: u.package,
        architecture: u.architecture,
        version: u.targetVersion,
        url: u.url,
        sha256: u.sha256,
        size: u.size,
      }));
    let downloads = toDownload(planned);
    log.info(`${platform}: downloading ${downloads.length} packages...`);
    const dl = await downloadDebs(downloads, {
      cacheDir: req.debCacheDir,
      concurrency: req.downloadConcurrency,
      signal,
      progress: req.progress,
      onVanished: "collect",
    });
    let files = dl.files;
    if (dl.vanished.length > 0) {
      const what = dl.vanished.map((v) => v.message);
      if (!req.ignoreErrors) throw vanishedError(platform, dl.vanished);
      for (const w of what) log.warning(`${platform}: ${w}: skipped with its source package`);
      planned = dropUnavailable(
        planned,
        dl.vanished.map((v) => ({
          package: v.item.package,
          architecture: v.item.architecture,
          reason: `${v.item.version} is not on the mirror (HTTP 404)`,
        })),
      );
      const fileOf = new Map(downloads.map((d, i) => [`${d.package}:${d.architecture}`, files[i]]));
      downloads = toDownload(planned);
      files = downloads.map((d) => fileOf.get(`${d.package}:${d.architecture}`));
      if (downloads.length === 0) {
        log.info(`${platform}: nothing left to patch`);
        return { result: { ...base, plan: planned, status: "up-to-date" }, image: undefined };
      }
    }
    const got = { ...dl, files };

    const installedByKey = new Map(inventory.packages.map((p) => [packageKey(p.name, p.architecture), p]));
    const debs: DebToInstall[] = downloads.map((d, i) => ({
      package: d.package,
      architecture: d.architecture,
      debPath: got.files[i]!,
      installed: installedByKey.get(`${d.package}:${d.architecture}`),
    }));

    // build the layer
    log.info(`${platform}: building the patch layer (${debs.length} packages)...`);
    const layerPath = join(await mkdtemp(join(req.workDir, "layer-")), "layer.tar");
    const now = req.now ?? new Date();
    const built = await buildPatchLayer({
      fs,
      inventory,
      debs,
      compression: req.compression ?? "gzip",
      layerPath,
      manifestMediaType: image.mediaType,
      // the layer's own timestamps come from the packages (reproducible); `now` dates the config
      now: req.now,
      signal,
    });
    for (const w of built.warnings) log.warning(w);

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
    const patchedImage = await mutateImage(
      image,
      {
        dropTopLayers: previous ? 1 : 0,
        append: [built.layer],
        history: [history],
        created: now.toISOString(),
        toOci,
        labels: {
          [PATCH_LABELS.baseDigest]: baseDigest,
          [PATCH_LABELS.layer]: built.layer.diffId,
          [PATCH_LABELS.version]: VERSION,
        },
        ...(isOci
          ? {
              annotations: {
                "org.opencontainers.image.base.digest": baseDigest,
                // a re-patch keeps the name the previous patch recorded with the same base digest
                ...(previous === undefined &&
                req.source.includes(":") &&
                !req.source.startsWith("oci:") &&
                !req.source.startsWith("docker-archive:")
                  ? { "org.opencontainers.image.base.name": req.source.replace(/^docker:\/\//, "") }
                  : {}),
              },
            }
          : {}),
      },
      { signal },
    );

    return {
      result: {
        ...base,
        plan: planned,
        status: "patched",
        built,
        patchedDigest: patchedImage.digest,
        download: { bytes: got.bytesDownloaded, fromCache: got.fromCache, files: downloads.length },
      },
      image: patchedImage,
    };
  }
}

/** Is the destination an OCI image layout (`oci:`) or OCI archive (`oci-archive:`)? */
function writesOciLayout(req: PatchRequest): boolean {
  if (req.destination === undefined || req.sink !== undefined) return false;
  const t = parseImageLocation(req.destination).transport;
  return t === "oci" || t === "oci-archive";
}

async function makePlan(
  fs: LayeredFs,
  inventory: Inventory,
  config: { architecture: string; variant?: string | undefined },
  targets: UpgradeTarget[],
  req: PatchRequest,
) {
  const aptFiles = await readAptFiles(fs);
  try {
    return await planForImage({
      inventory,
      architecture: debianArchitecture(config.architecture, config.variant),
      aptFiles,
      imageKeyrings: imageKeyringFiles(fs, aptFiles.keyrings),
      mode: req.mode,
      ...(req.suites ? { suites: req.suites } : {}),
      targets,
      ignoreErrors: req.ignoreErrors ?? false,
      ...(req.apt?.config ? { config: req.apt.config } : {}),
      client: {
        ...(req.apt?.cacheDir ? { cacheDir: req.apt.cacheDir } : {}),
        ...(req.apt?.offline ? { offline: true } : {}),
        ...(req.signal ? { http: { signal: req.signal } } : {}),
      },
      ...(req.progress ? { progress: req.progress } : {}),
    });
  } catch (e) {
    if (isOcipatchError(e)) throw e;
    throw new OcipatchError("RESOLVE", `planning failed: ${(e as Error).message}`, { cause: e });
  }
}

/** A `--vuln-report` must be about this image's OS release and architecture. */
export function checkReportMatches(report: ScanResult, inventory: Inventory, platform: string): void {
  const where = report.target.report?.path ?? "the vulnerability report";
  const ros = report.os;
  if (ros) {
    const id = ros.id.toLowerCase();
    const sameId = id === inventory.os.id || inventory.os.idLike.includes(id);
    const major = (v: string | undefined) => v?.split(".")[0];
    const sameVersion =
      ros.versionId === undefined ||
      inventory.os.versionId === undefined ||
      (inventory.os.id === "ubuntu"
        ? ros.versionId === inventory.os.versionId
        : major(ros.versionId) === major(inventory.os.versionId));
    if (!sameId || !sameVersion) {
      throw new OcipatchError(
        "USAGE",
        `${where} is about ${ros.id} ${ros.versionId ?? ""}`.trimEnd() +
          `, but the image is ${inventory.os.id} ${inventory.os.versionId ?? ""}`.trimEnd(),
      );
    }
  }
  const rplat = report.target.platform;
  if (rplat) {
    const arch = (p: string) => p.split("/")[1];
    if (arch(rplat) !== undefined && arch(rplat) !== arch(platform)) {
      throw new OcipatchError("USAGE", `${where} is for ${rplat}, but the image is ${platform}`);
    }
  }
}

/** How many failures one error line names before "and N more" (the rest are in `details.failures`). */
const FIRST_FEW = 3;

/**
 * One line for every .deb of a platform the mirror answered 404/410 for: the count, the first few
 * packages, the hint; the full list (package, version, URL) in `details.failures` for JSON and reports.
 */
function vanishedError(platform: string, vanished: readonly DebVanished[]): OcipatchError {
  const n = vanished.length;
  const names = vanished.slice(0, FIRST_FEW).map((v) => `${v.item.package} ${v.item.version}`);
  const more = n > FIRST_FEW ? ` and ${n - FIRST_FEW} more` : "";
  const one = n === 1;
  return new OcipatchError(
    "NOT_FOUND",
    `${platform}: ${n} package${one ? " is" : "s are"} no longer on the mirror (HTTP 404): ${names.join(", ")}${more} — run again to re-plan against the mirror's new indices, or ignore errors (or choose other suites) to patch without ${one ? "it" : "them"}`,
    {
      cause: vanished[0],
      details: {
        option: ["ignoreErrors", "suites"],
        platform,
        failures: vanished.map((v) => ({
          class: "not-on-mirror",
          package: v.item.package,
          architecture: v.item.architecture,
          version: v.item.version,
          url: redactUrl(v.item.url),
          message: v.message,
        })),
      },
    },
  );
}
