import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import type {
  BackendPatcher,
  FetchedPackage,
  PatchLayer,
  PendingFile,
  VanishedArtifact,
} from "../backends/types.js";
import { OcipatchError } from "../errors.js";
import type { Platform } from "../image/manifest.js";
import type { Compression } from "../image/media-types.js";
import { packageKey } from "../inventory/package-key.js";
import type { Inventory } from "../inventory/types.js";
import { plannedDownloads } from "../plan/downloads.js";
import type { Plan } from "../plan/types.js";
import type { LayeredFs } from "../rootfs/index.js";
import { redactUrl } from "../util/http/redact.js";
import { dropUnavailable } from "./drop-unavailable.js";
import type { DownloadAccount, PatchLog, PatchRequest } from "./patch-image.js";
import { buildKey } from "./shared-builds.js";
import type { WantedPackage } from "./wanted.js";

/** The platform a layer is built for. */
export interface BuildTarget {
  readonly platformName: string;
  readonly fs: LayeredFs;
  readonly platform: Platform;
  readonly inventory: Inventory;
  /** Manifest media type of the image the layer goes into. */
  readonly manifestMediaType: string;
}

type Options = Pick<
  PatchRequest,
  | "workDir"
  | "packageCacheDir"
  | "downloadConcurrency"
  | "ignoreErrors"
  | "now"
  | "sharedBuilds"
  | "signal"
  | "progress"
> & { readonly compression: Compression };

export interface FetchedAndBuilt {
  /** The plan as fetched: with ignoreErrors, without the source groups of vanished files. */
  readonly plan: Plan;
  readonly account: DownloadAccount;
  /** The layer; undefined when nothing was left to build. */
  readonly layer: PatchLayer | undefined;
  /** The layer was built for another image of the run (`sharedBuilds`). */
  readonly reused: boolean;
}

/**
 * Download the plan's package files and build the one layer from them. The build starts as soon
 * as the fetch has said where the files go, and reads each package when it is there: the first
 * packages are written into the layer while the later ones still download. When files vanished
 * from the mirror (ignoreErrors), that build is stopped and the layer is built again from what is
 * left. A run that shares builds between images (a fleet) fetches first and then builds.
 */
export async function fetchAndBuild(
  patcher: BackendPatcher,
  target: BuildTarget,
  plan: Plan,
  wanted: readonly WantedPackage[],
  opts: Options,
  log: PatchLog,
): Promise<FetchedAndBuilt> {
  const name = target.platformName;
  const building = (n: number) => log.info(`${name}: building the patch layer (${n} packages)...`);
  /** The layer from the packages that are all there already. */
  const buildFetched = async (fetched: Fetched): Promise<FetchedAndBuilt> => {
    if (fetched.packages.length === 0) return { ...fetched, layer: undefined, reused: false };
    building(fetched.packages.length);
    return { ...fetched, ...(await buildLayer(patcher, target, fetched.packages, opts)) };
  };
  if (opts.sharedBuilds) return buildFetched(await fetchPackages(patcher, plan, wanted, name, opts, log));

  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let early: Promise<PatchLayer> | undefined;
  /** A file did not come: the fetch reports why, the build stopping for it does not stop the fetch. */
  let fileFailed = false;
  const onPlanned = (files: readonly PendingFile[]) => {
    for (const f of files)
      f.ready.catch(() => {
        fileFailed = true;
      });
    building(wanted.length);
    const packages = wanted.map((w, i) => fetchedPackage(w, files[i]!.path, files[i]!.ready));
    early = buildLayer(patcher, target, packages, { ...opts, signal }).then((b) => b.layer);
    early.catch(() => {
      if (!fileFailed) stop.abort();
    }); // its error is awaited below
  };

  let fetched: Fetched;
  try {
    fetched = await fetchPackages(patcher, plan, wanted, name, { ...opts, signal }, log, onPlanned);
  } catch (e) {
    if (early === undefined) throw e;
    // the build failed first (and stopped the downloads): its error is the one to report
    const buildFailed = stop.signal.aborted && !opts.signal?.aborted;
    stop.abort();
    const buildError = await early.then(
      () => undefined,
      (be: unknown) => be,
    );
    throw buildFailed && buildError !== undefined ? buildError : e;
  }
  if (early !== undefined && fetched.packages.length === wanted.length)
    return { ...fetched, layer: await early, reused: false };
  if (early !== undefined) {
    // files vanished: the build that waited for them stops, and the layer is built from the rest
    stop.abort();
    await early.catch(() => undefined); // stopped on purpose
  }
  return buildFetched(fetched);
}

function fetchedPackage(w: WantedPackage, path: string, ready?: Promise<void>): FetchedPackage {
  return {
    package: w.item.package,
    architecture: w.item.architecture,
    path,
    ...(ready ? { ready } : {}),
    installed: w.installed,
    ...(w.replaces.length > 0 ? { replaces: w.replaces } : {}),
  };
}

/**
 * The one new layer. In a run that shares work, an identical layer another image built is reused
 * (see SharedBuilds for when it is identical); the layer file then lives in the run's directory.
 */
async function buildLayer(
  patcher: BackendPatcher,
  target: BuildTarget,
  packages: readonly FetchedPackage[],
  opts: Options,
): Promise<{ layer: PatchLayer; reused: boolean }> {
  const inputs = {
    platform: target.platform,
    inventory: target.inventory,
    packages,
    compression: opts.compression,
    manifestMediaType: target.manifestMediaType,
    // the layer's own timestamps come from the packages (reproducible); `now` dates the config
    now: opts.now,
  };
  const run = async (layerPath: string) =>
    patcher.buildLayer({ ...inputs, fs: target.fs, layerPath, signal: opts.signal });
  const shared = opts.sharedBuilds;
  if (!shared)
    return {
      layer: await run(join(await mkdtemp(join(opts.workDir, "layer-")), "layer.tar")),
      reused: false,
    };
  return shared.build(
    buildKey(target.inventory.packageManager, inputs),
    target.fs,
    async () => run(await shared.layerPath()),
    opts.signal,
  );
}

type Fetched = Omit<FetchedAndBuilt, "layer" | "reused"> & { readonly packages: readonly FetchedPackage[] };

/**
 * Download and verify the plan's package files. With ignoreErrors, a file the mirror no longer
 * has drops its source group from the plan; otherwise it fails the platform.
 */
async function fetchPackages(
  patcher: BackendPatcher,
  plan: Plan,
  wanted: readonly WantedPackage[],
  name: string,
  opts: Options,
  log: PatchLog,
  onPlanned?: (files: readonly PendingFile[]) => void,
): Promise<Fetched> {
  log.info(`${name}: downloading ${wanted.length} packages...`);
  const got = await patcher.fetch(
    wanted.map((w) => w.item),
    {
      cacheDir: opts.packageCacheDir,
      concurrency: opts.downloadConcurrency,
      signal: opts.signal,
      progress: opts.progress,
      onPlanned,
    },
  );
  let kept = plan;
  let fetched = wanted.map((w, i) => ({ w, path: got.files[i] }));
  if (got.vanished.length > 0) {
    if (!opts.ignoreErrors) throw vanishedError(name, got.vanished);
    for (const v of got.vanished) log.warning(`${name}: ${v.message}: skipped with its source package`);
    kept = dropUnavailable(
      plan,
      got.vanished.map((v) => ({
        name: v.item.package,
        architecture: v.item.architecture,
        reason: `${v.item.version} is not on the mirror (HTTP 404)`,
      })),
    );
    // what the kept plan still downloads, in the same order (dropping keeps the order)
    const still = new Set(plannedDownloads(kept).map((d) => packageKey(d.package, d.architecture)));
    fetched = fetched.filter((f) => still.has(packageKey(f.w.item.package, f.w.item.architecture)));
  }
  const account: DownloadAccount = {
    bytes: got.bytesDownloaded,
    fromCache: got.fromCache,
    files: fetched.length,
  };
  return { plan: kept, packages: fetched.map((f) => fetchedPackage(f.w, f.path!)), account };
}

/** How many failures one error line names before "and N more" (the rest are in `details.failures`). */
const FIRST_FEW = 3;

/**
 * One line for every package file of a platform the mirror answered 404/410 for: the count, the first few
 * packages, the hint; the full list (package, version, URL) in `details.failures` for JSON and reports.
 */
function vanishedError(platform: string, vanished: readonly VanishedArtifact[]): OcipatchError {
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
