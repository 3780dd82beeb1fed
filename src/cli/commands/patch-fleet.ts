import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAptConfig } from "../../config/repositories.js";
import { EXIT, OcipatchError, oneLine } from "../../errors.js";
import type { FleetConfig } from "../../fleet/config.js";
import type { FleetJob } from "../../fleet/expand.js";
import { type FleetOutcome, runFleet } from "../../fleet/run.js";
import { parseShard } from "../../fleet/shard.js";
import { formatFleetJson, formatFleetTable } from "../../fleet/summary.js";
import type { Compression } from "../../image/media-types.js";
import { parsePlatform } from "../../image/platform.js";
import { patchImage } from "../../patch/patch-image.js";
import { SharedBuilds } from "../../patch/shared-builds.js";
import type { SuiteKind } from "../../plan/suites.js";
import { SharedLayers } from "../../rootfs/index.js";
import type { credentialsFrom } from "../../scan/image.js";
import { SharedBlobs } from "../../transport/registry/shared-blobs.js";
import { listTags } from "../../transport/registry/tags.js";
import { writeFileAtomic } from "../../util/fs.js";
import { tuneMalloc } from "../../util/host-lib/malloc.js";
import { ownedPrefix, release, removeOnExit } from "../../util/owned-temp.js";
import { cacheDir } from "../../util/paths.js";
import { openDatabaseForScan } from "../../vulndb/index.js";
import type { CliContext } from "../context.js";
import { indexCacheFor } from "../index-cache.js";
import { layerCacheFor } from "../layer-cache.js";
import type { Output } from "../output.js";
import { dbDirFrom } from "./db.js";

/** What a fleet run takes from `ocipatch patch`'s flags. */
interface FleetFlags {
  readonly jobs: number;
  readonly shard: string | undefined;
  readonly format: "pretty" | "json";
  readonly output: string | undefined;
  readonly push: boolean;
  readonly dryRun: boolean;
  readonly all: boolean;
  readonly ignoreErrors: boolean;
  readonly insecure: boolean;
  readonly compression: Compression;
  readonly referrers: boolean;
  /** `--no-layer-cache` clears it: build every patch layer, even one an earlier run built. */
  readonly layerCache: boolean;
  readonly offline: boolean;
  readonly skipDbUpdate: boolean;
  readonly dbDir: string | undefined;
  readonly mirror: string | undefined;
  readonly securityMirror: string | undefined;
  readonly keyrings: readonly string[] | undefined;
  /** `--repository`: apk repositories used instead of each image's own. */
  readonly repositories: readonly string[] | undefined;
  /** `--suites`: plan only from these kinds of suites. */
  readonly suites: readonly SuiteKind[] | undefined;
  readonly credentials: ReturnType<typeof credentialsFrom>;
  /** `--timeout`: each image's deadline (as copa's per-job timeout). */
  readonly timeoutMs: number;
  /** Interrupt of the whole run (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
}

export function parseJobs(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 64) {
    throw new OcipatchError("USAGE", `--jobs must be a whole number from 1 to 64, got "${text}"`);
  }
  return n;
}

/**
 * `ocipatch patch --config FILE` with copa's PatchConfig: every image of this shard patched
 * and pushed, at most `--jobs` at a time; progress lines on stderr, then the summary table
 * (or one JSON record per image). Exit 1 when any image failed.
 */
export async function runFleetPatch(
  config: FleetConfig,
  f: FleetFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  if (!f.push && !f.dryRun) {
    throw new OcipatchError(
      "USAGE",
      "a PatchConfig (--config) patches registry images: pass --push (or --dry-run)",
    );
  }
  const shard = f.shard === undefined ? undefined : parseShard(f.shard);
  // layers built by earlier runs (a wrong size limit is refused before any work)
  const layerCache = layerCacheFor(ctx.env, f.layerCache);
  const indexCache = indexCacheFor(ctx.env, f.layerCache);
  // many large buffers come and go in a patch: glibc gives them back to the system as they do
  tuneMalloc();
  const signal = f.signal;
  const transport = { credentials: f.credentials, insecure: f.insecure, env: ctx.env };
  // ocipatch's own configuration (mirrors, keyrings) still applies: from $OCIPATCH_CONFIG or its default place
  const aptConfig = await loadAptConfig({
    env: ctx.env,
    mirror: f.mirror,
    securityMirror: f.securityMirror,
    keyrings: f.keyrings,
  });
  const { db, warnings } = await openDatabaseForScan({
    dbDir: dbDirFrom(ctx, f.dbDir),
    offline: f.offline,
    skipUpdate: f.skipDbUpdate,
    progress: {},
  });
  for (const w of warnings) out.warning(w);
  const runDir = await mkdtemp(join(tmpdir(), `${ownedPrefix()}patch-`));
  removeOnExit(runDir);
  const cache = cacheDir(ctx.env);
  // work shared by the run's images: each blob uploaded once per registry, then mounted
  const sharedBlobs = new SharedBlobs();
  // and a patch layer identical for several images built once
  const sharedBuilds = new SharedBuilds(await mkdtemp(join(runDir, "layers-")));
  // and each distinct image layer (by diffID) read and indexed once
  const sharedLayers = new SharedLayers(await mkdtemp(join(runDir, "blobs-")));
  const patchOne = async (job: FleetJob): Promise<FleetOutcome> => {
    const workDir = await mkdtemp(join(runDir, "job-"));
    const jobSignal = AbortSignal.any([signal, AbortSignal.timeout(f.timeoutMs)]);
    const prefix = `${job.source}: `;
    try {
      const result = await patchImage({
        source: `docker://${job.source}`,
        destination: f.dryRun ? undefined : `docker://${job.destination}`,
        platforms: job.platforms?.map(parsePlatform),
        mode: f.all ? "all" : "targets",
        dryRun: f.dryRun,
        ignoreErrors: f.ignoreErrors,
        compression: f.compression,
        db,
        sourceOptions: transport,
        destinationOptions: { ...transport, sharedBlobs },
        repositories: {
          config: aptConfig,
          offline: f.offline,
          cacheDir: join(cache, "apt"),
          repositories: f.repositories,
          suites: f.suites,
        },
        workDir,
        packageCacheDir: join(cache, "debs"),
        signal: jobSignal,
        sharedBuilds,
        sharedLayers,
        layerCache,
        indexCache,
        log: { info() {}, success() {}, warning: (m) => out.warning(prefix + m) },
      });
      if (f.referrers && result.written) {
        try {
          const { attachReferrers } = await import("../../patch/referrers.js");
          await attachReferrers(result, { ...transport, signal: jobSignal });
        } catch (e) {
          out.warning(
            `${prefix}${oneLine(e)} (the patched image is written; --no-referrers skips this step)`,
          );
        }
      }
      const sum = (pick: (p: (typeof result.platforms)[number]) => number | undefined) => {
        let total = 0;
        for (const p of result.platforms) {
          const v = pick(p);
          if (v === undefined) return undefined;
          total += v;
        }
        return total;
      };
      return {
        status: result.status,
        digest: result.written?.digest,
        fixableBefore: sum((p) => p.before.summary.fixable),
        fixableAfter: result.status === "patched" ? sum((p) => p.after?.summary.fixable) : undefined,
        upgraded: sum((p) => p.plan.updates.length + p.plan.newPackages.length),
      };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  };
  let run: Awaited<ReturnType<typeof runFleet>>;
  try {
    run = await runFleet({
      config,
      listTags: (repository) => listTags(repository, { ...transport, signal }),
      patch: patchOne,
      jobs: f.jobs,
      shard,
      signal,
      onEvent: (e) => {
        if (e.kind === "planned") {
          out.info(
            shard
              ? `${e.total} image${e.total === 1 ? "" : "s"} in ${config.path}; shard ${shard.index}/${shard.count} patches ${e.mine}, ${f.jobs} at a time`
              : `${e.total} image${e.total === 1 ? "" : "s"} in ${config.path}, ${f.jobs} at a time`,
          );
        } else if (e.kind === "start") {
          out.info(`patching ${e.job.source} -> ${e.job.destination}`);
        } else {
          const r = e.result;
          const took = `${(r.durationMs / 1000).toFixed(1)}s`;
          const line = `[${e.done}/${e.of}] ${r.status} ${r.source}${r.error ? `: ${r.error.message}` : ""} (${took})`;
          if (r.status === "failed") out.error(line);
          else out.success(line);
        }
      },
    });
  } finally {
    db.close();
    await rm(runDir, { recursive: true, force: true });
    release(runDir);
  }
  for (const w of run.warnings) out.warning(w);
  const text = f.format === "json" ? formatFleetJson(run.results) : formatFleetTable(run.results);
  if (f.output === undefined) out.result(text);
  else {
    await writeFileAtomic(f.output, text);
    out.info(`Results written to ${f.output}`);
  }
  if (signal.aborted)
    throw new OcipatchError("CANCELLED", "fleet patch cancelled (the summary lists what was done)");
  if (run.results.some((r) => r.status === "failed")) ctx.exitCode = EXIT.FAILURE;
}
