import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { loadAptConfig } from "../../config/repositories.js";
import { EXIT, isOcipatchError, OcipatchError, oneLine } from "../../errors.js";
import type { FleetConfig } from "../../fleet/config.js";
import { COMPRESSIONS, type Compression } from "../../image/media-types.js";
import { parsePlatform } from "../../image/platform.js";
import {
  OUTPUT_MODES,
  type OutputMode,
  type PatchDestination,
  patchDestination,
  shownDestination,
} from "../../patch/destination.js";
import { formatPatchOutput, PATCH_OUTPUT_FORMATS, parsePatchOutputFormat } from "../../patch/output.js";
import { type PatchResult, patchImage } from "../../patch/patch-image.js";
import { patchErrorJson } from "../../patch/summary.js";
import { checkSeverityThreshold, parseSeverityThreshold } from "../../patch/threshold.js";
import { writeFailureReport, writePatchReports } from "../../patch/write-reports.js";
import { parseSuiteKinds } from "../../plan/suites.js";
import { credentialsFrom } from "../../scan/image.js";
import { importReport } from "../../scan/index.js";
import { connectEngine } from "../../transport/docker-daemon/client.js";
import { assertUsableDir, rootfsDirSink } from "../../transport/rootfs-dir/sink.js";
import { decodersLine } from "../../util/compression.js";
import { MAX_TIMEOUT_MS, parseDuration } from "../../util/duration.js";
import { writeFileAtomic } from "../../util/fs.js";
import { tuneMalloc } from "../../util/host-lib/malloc.js";
import { ownedPrefix, release, removeOnExit, sweepDeadOwners } from "../../util/owned-temp.js";
import { cacheDir } from "../../util/paths.js";
import { readRegularFile } from "../../util/regular-file.js";
import { openDatabaseForScan } from "../../vulndb/index.js";
import type { CliContext, Interrupted } from "../context.js";
import { exitCodesHelp } from "../exit-codes.js";
import { indexCacheFor } from "../index-cache.js";
import { layerCacheFor } from "../layer-cache.js";
import { Output } from "../output.js";
import { patchCredentialFlags } from "../registry-flags.js";
import { dbDirFrom } from "./db.js";
import { cancelledError, type WriteStage } from "./patch-cancelled.js";

interface PatchFlags {
  image?: string;
  tag?: string;
  dest?: string;
  push?: boolean;
  outputMode: OutputMode;
  outputPath?: string;
  timeout: string;
  username?: string;
  password?: string;
  report?: boolean;
  reportDir: string;
  address?: string;
  addr?: string;
  useDefaultMatchers?: string | boolean;
  grypeDbUrl?: string;
  output?: string;
  verbose?: boolean;
  severityThreshold?: string;
  referrers: boolean;
  layerCache: boolean;
  dbDir?: string;
  offline?: boolean;
  skipDbUpdate?: boolean;
  all?: boolean;
  dryRun?: boolean;
  ignoreErrors?: boolean;
  platform?: string;
  suites?: string;
  insecure?: boolean;
  format: string;
  compression: Compression;
  vulnReport?: string;
  config?: string;
  mirror?: string;
  securityMirror?: string;
  keyring?: string[];
  repository?: string[];
  quiet?: boolean;
  jobs: string;
  shard?: string;
}

export function registerPatchCommand(program: Command, ctx: CliContext): void {
  program
    .command("patch")
    .addHelpText("after", exitCodesHelp())
    .description(
      "scan an image, upgrade its vulnerable OS packages to their fixed versions in ONE new layer, write the patched image and re-scan it",
    )
    .option(
      "-i, --image <ref>",
      "image to patch (REF: the local engine's image if it has one, else the registry's; docker://REF, docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE)",
    )
    .option(
      "-t, --tag <tag|ref>",
      "tag (same repository) or full reference of the patched image (default <tag>-patched)",
    )
    .option(
      "--push",
      "push the patched image to the source registry (only with --output-mode docker or image)",
    )
    .addOption(
      new Option(
        "--output-mode <mode>",
        "where the patched image goes without --push: docker/image (load into the local Docker/Podman engine), oci (an OCI archive at --output-path), local (the patched root filesystem at --output-path)",
      )
        .choices([...OUTPUT_MODES])
        .default("docker"),
    )
    .option(
      "--output-path <path>",
      "OCI archive file (--output-mode oci) or a new or empty directory (--output-mode local)",
    )
    .option(
      "--dest <location>",
      "write the patched image here instead, whatever the mode (docker://REF, docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF])",
    )
    .option("--timeout <duration>", "timeout for the whole run (e.g. 90s, 5m, 1h)", "5m")
    .option(
      "-u, --username <user>",
      "registry user name (else KUBESCAPE_REGISTRY_USERNAME; then OCIPATCH_USERNAME, docker config)",
    )
    .option(
      "-p, --password <password>",
      "registry password (else KUBESCAPE_REGISTRY_PASSWORD; then OCIPATCH_PASSWORD, docker config)",
    )
    .option(
      "-r, --report",
      "write the before/after scans, the plan, an OpenVEX document and a summary to --report-dir",
    )
    .option("--report-dir <dir>", "directory for --report files", ".")
    .option(
      "-a, --address <address>",
      "accepted for compatibility with kubescape patch; ocipatch needs no BuildKit",
    )
    .addOption(new Option("--addr <address>", "the seed's spelling of --address").hideHelp())
    .option(
      "--use-default-matchers [bool]",
      "accepted for compatibility with kubescape patch; ocipatch matches OS packages with distribution data only",
    )
    .option(
      "--grype-db-url <url>",
      "accepted for compatibility with kubescape patch; ocipatch uses its own database (--db-dir, ocipatch db)",
    )
    .option(
      "-f, --format <format>",
      "result format: pretty (the summary; -v adds what remains), json or sarif (the patched image's remaining findings)",
      "pretty",
    )
    .option("-o, --output <file>", "write the result to this file instead of stdout")
    .option("-v, --verbose", "pretty format: also list the vulnerabilities that remain")
    .option(
      "-s, --severity-threshold <severity>",
      "exit 1 when the patched image still has a vulnerability at or above this severity (negligible, low, medium, high, critical)",
    )
    .option(
      "--no-referrers",
      "do not attach the VEX statement and the SBOM to the patched image as OCI referrers",
    )
    .option(
      "--no-layer-cache",
      "build the patch layer even when an earlier run built the same one (same image layers and package files), and read every layer of the image, even one an earlier run indexed",
    )
    .option("--db-dir <dir>", "vulnerability database directory")
    .option("--offline", "never update the vulnerability database; use cached apt indices only")
    .option("--skip-db-update", "do not update the vulnerability database, even when stale")
    .option(
      "--all",
      "upgrade every package with a newer version in the security/updates suites, not only vulnerable ones",
    )
    .option("--dry-run", "scan and plan only: print what would be upgraded, write nothing")
    .option(
      "--ignore-errors",
      "patch what can be patched; skip packages that cannot be brought to a fixed version",
    )
    .option(
      "--platform <os/arch[/variant]>",
      "patch only these platforms (comma-separated) of a multi-platform image; the others are kept as they are",
    )
    .option(
      "--suites <kinds>",
      "plan only from these kinds of the release's suites, comma-separated: security, updates, release (default all three)",
    )
    .option("--insecure", "allow registries without valid TLS (and plain HTTP)")
    .addOption(
      new Option("--compression <algorithm>", "compression of the new layer")
        .choices(COMPRESSIONS)
        .default("gzip"),
    )
    .option(
      "--vuln-report <file>",
      "fix the findings of this grype/trivy/copa report instead of ocipatch's own scan",
    )
    .option(
      "--config <file>",
      "ocipatch configuration file (mirrors, keyrings); or copa's bulk PatchConfig (kind: PatchConfig) to patch many images with --push",
    )
    .option("--jobs <n>", "with a PatchConfig: images patched at the same time", "2")
    .option(
      "--shard <K/N>",
      "with a PatchConfig: patch only share K of N (K from 0 to N-1, e.g. $JOB_COMPLETION_INDEX) of the sorted image list",
    )
    .option("--mirror <url>", "Debian/Ubuntu mirror to use instead of the image's")
    .option("--security-mirror <url>", "security mirror to use instead of the image's")
    .option(
      "--keyring <file...>",
      "extra keys trusted for the repositories: OpenPGP keyring(s) for apt Release files and rpm packages, PEM public keys for apk indices",
    )
    .option(
      "--repository <url>",
      "repository used instead of the image's own (apk: the directory holding <arch>/APKINDEX.tar.gz, instead of /etc/apk/repositories; rpm: a baseurl holding repodata/, instead of /etc/yum.repos.d); repeatable",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option("-q, --quiet", "only print warnings and errors on stderr")
    .action(async (o: PatchFlags) => {
      const out = new Output(ctx, { quiet: o.quiet ?? false });
      try {
        await runPatch(o, ctx, out);
      } finally {
        out.close();
      }
    });
}

async function runPatch(o: PatchFlags, ctx: CliContext, out: Output): Promise<void> {
  if (out.debugging) out.debug(decodersLine());
  const fleet = o.config === undefined ? undefined : await readFleetConfig(o.config);
  if (fleet) return runFleetFromFlags(fleet, o, ctx, out);
  if (o.jobs !== "2" || o.shard !== undefined) {
    throw new OcipatchError("USAGE", "--jobs and --shard need a PatchConfig file (--config)");
  }
  if (o.image === undefined) {
    throw new OcipatchError(
      "USAGE",
      "required option '-i, --image <ref>' not specified (or --config with a PatchConfig)",
    );
  }
  const image = o.image;
  const format = parsePatchOutputFormat(o.format);
  if (!format) {
    throw new OcipatchError(
      "USAGE",
      `--format must be one of ${PATCH_OUTPUT_FORMATS.join(", ")}, got "${o.format}"`,
    );
  }
  if (o.output !== undefined && o.output.trim() === "") throw new OcipatchError("USAGE", "--output is empty");
  const threshold =
    o.severityThreshold === undefined ? undefined : parseSeverityThreshold(o.severityThreshold);
  const timeoutMs = parseDuration(o.timeout);
  if (!(timeoutMs > 0)) throw new OcipatchError("USAGE", `--timeout must be positive, got "${o.timeout}"`);
  if (timeoutMs > MAX_TIMEOUT_MS) {
    throw new OcipatchError(
      "USAGE",
      `--timeout must be at most ${MAX_TIMEOUT_MS / 3_600_000}h, got "${o.timeout}"`,
      { details: { option: "timeout" } },
    );
  }
  const platforms =
    o.platform === undefined
      ? undefined
      : o.platform
          .split(",")
          .map((x) => x.trim())
          .filter((x) => x !== "")
          .map(parsePlatform);
  const suites = o.suites === undefined ? undefined : parseSuiteKinds(o.suites);
  // a dry run writes nothing, so it needs no destination (an OCI layout input has no image name)
  const target = o.dryRun
    ? undefined
    : patchDestination(image, {
        tag: o.tag,
        dest: o.dest,
        push: o.push,
        outputMode: o.outputMode,
        outputPath: o.outputPath,
      });
  // --output-mode local: refuse a used directory before any work
  const rootfsSink = target?.kind === "rootfs" ? rootfsDirSink(target.dir) : undefined;
  if (rootfsSink) await assertUsableDir(resolve(rootfsSink.dir), rootfsSink.dir);
  if (target?.kind === "image" && target.how === "loaded") await requireEngine(ctx);
  // a root filesystem directory is named by its absolute path (never mistaken for an image name)
  const destination = rootfsSink ? resolve(rootfsSink.dir) : target?.location;
  const flags = patchCredentialFlags(o.username, o.password, ctx.env);
  if ((flags.username === undefined) !== (flags.password === undefined)) {
    throw new OcipatchError(
      "USAGE",
      "give both --username and --password (or KUBESCAPE_REGISTRY_USERNAME and KUBESCAPE_REGISTRY_PASSWORD), or neither",
    );
  }
  const credentials = credentialsFrom(flags.username, flags.password);
  const layerCache = layerCacheFor(ctx.env, o.layerCache);
  const indexCache = indexCacheFor(ctx.env, o.layerCache);
  // many large buffers come and go in a patch: glibc gives them back to the system as they do
  tuneMalloc();
  for (const notice of ignoredFlagNotices(o)) out.info(notice);

  // the deadline and SIGINT/SIGTERM cancel the same way: every wait honours `signal`
  const timeout = AbortSignal.timeout(timeoutMs);
  ctx.handlesInterrupt = true;
  const signal = ctx.interrupt ? AbortSignal.any([timeout, ctx.interrupt]) : timeout;
  let stage: WriteStage = "before";
  await sweepDeadOwners(tmpdir(), WORK_DIR_PATTERN);
  const workDir = await mkdtemp(join(tmpdir(), `${ownedPrefix()}patch-`));
  removeOnExit(workDir);
  const progress = out.progress();
  let result: PatchResult;
  try {
    const aptConfig = await loadAptConfig({
      path: o.config,
      env: ctx.env,
      mirror: o.mirror,
      securityMirror: o.securityMirror,
      keyrings: o.keyring,
    });
    const report = o.vulnReport ? await importReport(o.vulnReport, { onlyFixed: false, signal }) : undefined;
    out.info("Scanning image...");
    const { db, warnings } = await openDatabaseForScan({
      dbDir: dbDirFrom(ctx, o.dbDir),
      offline: o.offline ?? false,
      skipUpdate: o.skipDbUpdate ?? false,
      progress,
    });
    for (const w of warnings) out.warning(w);
    signal.throwIfAborted();
    try {
      result = await patchImage({
        source: image,
        destination,
        sink: rootfsSink,
        platforms,
        mode: o.all ? "all" : "targets",
        dryRun: o.dryRun,
        ignoreErrors: o.ignoreErrors,
        compression: o.compression,
        db,
        report,
        sourceOptions: { credentials, insecure: o.insecure, env: ctx.env },
        destinationOptions: { credentials, insecure: o.insecure, env: ctx.env },
        repositories: {
          suites,
          config: aptConfig,
          offline: o.offline,
          cacheDir: join(cacheDir(ctx.env), "apt"),
          repositories: o.repository,
        },
        workDir,
        packageCacheDir: join(cacheDir(ctx.env), "debs"),
        layerCache,
        indexCache,
        signal,
        progress,
        log: {
          info: (m) => out.info(m),
          success: (m) => out.success(m),
          warning: (m) => out.warning(m),
        },
        onPhase: (phase) => {
          if (phase === "writing") stage = "writing";
          if (phase === "patched") stage = "written";
          phaseLog(out, phase, target);
        },
      });
    } finally {
      db.close();
    }
  } catch (e) {
    if (signal.aborted) {
      const interrupted = ctx.interrupt?.aborted ? (ctx.interrupt.reason as Interrupted) : undefined;
      throw cancelledError(e, { image, destination, timeoutMs, stage, interrupted });
    }
    await reportFailure({ ...o, image }, out, e);
    throw e;
  } finally {
    await rm(workDir, { recursive: true, force: true });
    release(workDir);
  }

  if (o.report && result.status !== "dry-run") {
    const files = await writePatchReports(o.reportDir, result);
    for (const f of files) out.info(`Report written to ${f}`);
  }
  const skipped = rootfsSink?.lastStats?.skippedSpecial ?? 0;
  if (skipped > 0) {
    out.warning(
      `${skipped} device node${skipped === 1 ? "" : "s"} or FIFO${skipped === 1 ? "" : "s"} of the image not created in ${rootfsSink!.dir} (like umoci unpack --rootless)`,
    );
  }
  // a root filesystem directory has no place for referrers
  if (o.referrers && !rootfsSink) {
    try {
      // loaded when used (with the SBOM writer): start-up of every other patch stays lean
      const { attachReferrers } = await import("../../patch/referrers.js");
      const attached = await attachReferrers(result, { credentials, insecure: o.insecure, env: ctx.env });
      for (const a of attached) {
        out.info(
          `Attached the ${a.kind === "vex" ? "VEX statement (in-toto, OpenVEX)" : "CycloneDX SBOM"} to ${a.subject} as a referrer (${a.digest})`,
        );
      }
    } catch (e) {
      // the patched image is written; a scanner just will not find these documents
      out.warning(`${oneLine(e)} (the patched image is written; --no-referrers skips this step)`);
    }
  }
  out.info("Preparing results ...");
  const text = formatPatchOutput(result, format, { verbose: o.verbose });
  if (o.output === undefined) out.result(text);
  else {
    await writeFileAtomic(o.output, text);
    out.info(`Results written to ${o.output}`);
  }
  if (threshold !== undefined) {
    const verdict = checkSeverityThreshold(result, threshold);
    if (verdict.exceeded) {
      const shown = verdict.ids.slice(0, 5).join(", ") + (verdict.ids.length > 5 ? ", ..." : "");
      out.error(
        `the ${result.status === "patched" ? "patched " : ""}image still has ${verdict.ids.length} vulnerabilit${verdict.ids.length === 1 ? "y" : "ies"} at or above ${threshold} (--severity-threshold): ${shown}`,
      );
      ctx.exitCode = EXIT.FAILURE;
    }
  }
}

/** kubescape patch's flags that change nothing here, each said once. */
function ignoredFlagNotices(o: PatchFlags): string[] {
  const notices: string[] = [];
  if (o.address !== undefined || o.addr !== undefined) {
    notices.push(
      `ocipatch needs no BuildKit daemon: --${o.address !== undefined ? "address" : "addr"} is ignored`,
    );
  }
  if (o.useDefaultMatchers !== undefined) {
    const v = String(o.useDefaultMatchers).toLowerCase();
    notices.push(
      v === "false" || v === "0"
        ? "--use-default-matchers=false is ignored: ocipatch matches OS packages with the distribution's data only, never by CPE"
        : "--use-default-matchers is ignored: ocipatch always matches OS packages with the distribution's data",
    );
  }
  if (o.grypeDbUrl !== undefined) {
    notices.push(
      "--grype-db-url is ignored: ocipatch uses its own vulnerability database (see --db-dir and `ocipatch db`)",
    );
  }
  return notices;
}

/** Work directories of patch runs in $TMPDIR (`ocipatch-<pid>-patch-XXXXXX`). */
const WORK_DIR_PATTERN = /^ocipatch-\d+-patch-/;

/** A failed patch: the error with its full failure lists as JSON on stdout (`--format json`) and in `-r`. */
async function reportFailure(
  o: { image: string; format: string; report?: boolean | undefined; reportDir: string },
  out: Output,
  e: unknown,
): Promise<void> {
  if (o.format === "json") out.result(JSON.stringify(patchErrorJson(o.image, e), null, 2));
  if (!o.report) return;
  try {
    out.info(`Error report written to ${await writeFailureReport(o.reportDir, o.image, e)}`);
  } catch (we) {
    out.warning(oneLine(we));
  }
}

/**
 * Mode docker with no engine: fail before any work (kubescape's rule), saying what
 * else the user can do.
 */
async function requireEngine(ctx: CliContext): Promise<void> {
  try {
    const client = await connectEngine({ env: ctx.env });
    await client.close();
  } catch (e) {
    throw new OcipatchError(
      "ENGINE",
      `cannot load the patched image into the local image store (${oneLine(e)}): pass --push to push it to the registry, or --output-mode oci --output-path FILE`,
      { cause: e },
    );
  }
}

/** The seed's log lines, with kubescape's note of where the patched image went. */
function phaseLog(out: Output, phase: string, target: PatchDestination | undefined): void {
  switch (phase) {
    case "scanned":
      out.success("Scanned image successfully");
      out.info("Patching image...");
      break;
    case "patched":
      out.success(
        target ? `Patched image successfully. ${whereItWent(target)}` : "Patched image successfully",
      );
      out.info("Re-scanning image...");
      break;
    case "rescanned":
      out.success("Re-scanned image successfully");
      break;
  }
}

function whereItWent(target: PatchDestination): string {
  if (target.kind === "rootfs") return `Exported to: ${target.dir}`;
  const shown = shownDestination(target.location);
  switch (target.how) {
    case "loaded":
      return `Loaded locally: ${shown}`;
    case "pushed":
      return `Pushed: ${shown}`;
    case "exported":
      return `Exported to: ${shown}`;
  }
}

/** The file of `--config` when it is copa's PatchConfig (it has `kind`/`apiVersion`); else ocipatch's own. */
async function readFleetConfig(path: string): Promise<FleetConfig | undefined> {
  let text: string;
  try {
    text = (await readRegularFile(path, 1024 * 1024, { what: "config file" })).toString("utf8");
  } catch (e) {
    // ocipatch's own config reader reports it (as before)
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
  // ocipatch's own file is JSON unless named .yaml/.yml; copa's is YAML (JSON is YAML too)
  const { isCopaConfig, parseConfigText, parseFleetConfig } = await import("../../fleet/config.js");
  let doc: unknown;
  try {
    doc = parseConfigText(text, path);
  } catch {
    return undefined;
  }
  return isCopaConfig(doc) ? parseFleetConfig(doc, path) : undefined;
}

/** Single-image flags a fleet run refuses (each image's destination comes from the config). */
const SINGLE_IMAGE_FLAGS: ReadonlyArray<[keyof PatchFlags, string]> = [
  ["image", "--image"],
  ["tag", "--tag"],
  ["dest", "--dest"],
  ["outputPath", "--output-path"],
  ["platform", "--platform (use platforms: in the config)"],
  ["vulnReport", "--vuln-report"],
  ["severityThreshold", "--severity-threshold"],
  ["report", "--report"],
];

async function runFleetFromFlags(
  fleet: FleetConfig,
  o: PatchFlags,
  ctx: CliContext,
  out: Output,
): Promise<void> {
  for (const [key, flag] of SINGLE_IMAGE_FLAGS) {
    if (o[key] !== undefined) {
      throw new OcipatchError("USAGE", `${flag} cannot be used with a PatchConfig (--config ${fleet.path})`);
    }
  }
  if (o.format !== "pretty" && o.format !== "json") {
    throw new OcipatchError("USAGE", `--format must be pretty or json with a PatchConfig, got "${o.format}"`);
  }
  if (o.output !== undefined && o.output.trim() === "") throw new OcipatchError("USAGE", "--output is empty");
  const { parseJobs, runFleetPatch } = await import("./patch-fleet.js");
  const jobs = parseJobs(o.jobs);
  const timeoutMs = parseDuration(o.timeout);
  if (!(timeoutMs > 0) || timeoutMs > MAX_TIMEOUT_MS) {
    throw new OcipatchError(
      "USAGE",
      `--timeout must be positive and at most ${MAX_TIMEOUT_MS / 3_600_000}h, got "${o.timeout}"`,
    );
  }
  const flags = patchCredentialFlags(o.username, o.password, ctx.env);
  if ((flags.username === undefined) !== (flags.password === undefined)) {
    throw new OcipatchError(
      "USAGE",
      "give both --username and --password (or KUBESCAPE_REGISTRY_USERNAME and KUBESCAPE_REGISTRY_PASSWORD), or neither",
    );
  }
  for (const notice of ignoredFlagNotices(o)) out.info(notice);
  ctx.handlesInterrupt = true;
  const signal = ctx.interrupt ?? new AbortController().signal;
  await sweepDeadOwners(tmpdir(), WORK_DIR_PATTERN);
  await runFleetPatch(
    fleet,
    {
      jobs,
      shard: o.shard,
      format: o.format,
      output: o.output,
      push: o.push ?? false,
      dryRun: o.dryRun ?? false,
      all: o.all ?? false,
      ignoreErrors: o.ignoreErrors ?? false,
      insecure: o.insecure ?? false,
      compression: o.compression,
      referrers: o.referrers,
      layerCache: o.layerCache,
      offline: o.offline ?? false,
      skipDbUpdate: o.skipDbUpdate ?? false,
      dbDir: o.dbDir,
      mirror: o.mirror,
      securityMirror: o.securityMirror,
      keyrings: o.keyring,
      repositories: o.repository,
      suites: o.suites === undefined ? undefined : parseSuiteKinds(o.suites),
      credentials: credentialsFrom(flags.username, flags.password),
      timeoutMs,
      signal,
    },
    ctx,
    out,
  );
}
