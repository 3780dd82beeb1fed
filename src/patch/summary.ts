import { isOcipatchError, oneLine } from "../errors.js";
import { formatScriptReport } from "../report/scripts.js";
import { VERSION } from "../version.js";
import type { PatchResult, PlatformResult } from "./patch-image.js";

/** Image name as people write it (`docker.io/library/nginx:1.22`, `oci:/dir:tag`). */
export function displayLocation(location: string): string {
  return location.replace(/^docker:\/\//, "");
}

function block(image: string, total: number, fixable: number): string[] {
  return [`Image: ${image}`, `  * Total CVE's  : ${total}`, `  * Fixable CVE's: ${fixable}`];
}

/** The seed's summary block (one pair per platform when several were patched). */
export function formatPatchSummary(result: PatchResult): string {
  const lines: string[] = ["", "Vulnerability summary:"];
  const many = result.platforms.length > 1;
  const suffix = (p: PlatformResult) => (many ? ` (${p.platform})` : "");
  for (const p of result.platforms) {
    lines.push(
      ...block(
        `${displayLocation(result.source)}${suffix(p)}`,
        p.before.summary.total,
        p.before.summary.fixable,
      ),
    );
    lines.push("");
    if (p.after && result.destination) {
      lines.push(
        ...block(
          `${displayLocation(result.destination)}${suffix(p)}`,
          p.after.summary.total,
          p.after.summary.fixable,
        ),
      );
      lines.push("");
    }
  }
  if (result.status === "up-to-date")
    lines.push("Nothing to patch: no fixable vulnerability has a fixed package.");
  if (result.status === "dry-run") {
    for (const p of result.platforms) {
      lines.push(`Would upgrade${suffix(p)}:`);
      for (const u of p.plan.updates)
        lines.push(`  ${u.package} ${u.installedVersion} -> ${u.targetVersion}`);
      for (const n of p.plan.newPackages) lines.push(`  ${n.package} (new) ${n.targetVersion}`);
      if (p.plan.updates.length + p.plan.newPackages.length === 0) lines.push("  nothing");
    }
  }
  for (const p of result.platforms) {
    if (p.plan.unresolved.length > 0) {
      lines.push(`Not fixed${suffix(p)}:`);
      for (const u of p.plan.unresolved) lines.push(`  ${u.package}: ${u.reason}`);
    }
    for (const e of p.built?.maintainerEffects ?? []) {
      lines.push(`${e.effect} (${e.package})${suffix(p)}: ${e.status}: ${e.detail}`);
    }
    const scripts = (p.built?.scriptReports ?? []).filter((s) => s.wouldHaveDoneSomething);
    if (scripts.length > 0) {
      lines.push(
        `Maintainer scripts not run${suffix(p)}: ${scripts.length} of the upgraded packages have scripts that would have done more than nothing (listed in the JSON result and in the report files; see README "Maintainer scripts").`,
      );
    }
  }
  return `${lines.join("\n").replace(/\n+$/, "")}\n`;
}

/** Machine-readable result of `ocipatch patch --format json`. */
export function patchResultJson(result: PatchResult): Record<string, unknown> {
  return {
    schemaVersion: "1.0",
    tool: { name: "ocipatch", version: VERSION },
    status: result.status,
    source: { location: result.source, digest: result.sourceDigest },
    destination: result.written
      ? {
          location: result.destination,
          digest: result.written.digest,
          mediaType: result.written.mediaType,
          stats: result.written.stats,
        }
      : undefined,
    platforms: result.platforms.map((p) => ({
      platform: p.platform,
      status: p.status,
      sourceDigest: p.sourceDigest,
      baseDigest: p.baseDigest,
      patchedDigest: p.patchedDigest,
      replacedPreviousLayer: p.replacedPreviousLayer,
      before: { total: p.before.summary.total, fixable: p.before.summary.fixable },
      after: p.after ? { total: p.after.summary.total, fixable: p.after.summary.fixable } : undefined,
      packages: p.built
        ? p.built.packages.map((x) => ({
            name: x.package,
            architecture: x.architecture,
            from: x.fromVersion,
            to: x.toVersion,
          }))
        : p.plan.updates.map((u) => ({
            name: u.package,
            architecture: u.architecture,
            from: u.installedVersion,
            to: u.targetVersion,
          })),
      unresolved: p.plan.unresolved,
      keptConffiles: p.built?.keptConffiles ?? [],
      maintainerScripts: (p.built?.scriptReports ?? [])
        .filter((r) => r.wouldHaveDoneSomething)
        .map((r) => ({ package: r.package, summary: formatScriptReport(r), kinds: r.kinds })),
      maintainerEffects: (p.built?.maintainerEffects ?? []).map((e) => ({
        package: e.package,
        effect: e.effect,
        status: e.status,
        detail: e.detail,
      })),
      layer: p.built
        ? {
            digest: p.built.layer.digest,
            diffId: p.built.layer.diffId,
            size: p.built.layer.size,
            // built by an earlier run (the layer cache): nothing was downloaded or built
            fromCache: p.layerFromCache === true,
          }
        : undefined,
      download: downloadJson(p),
      warnings: [...p.plan.warnings, ...(p.built?.warnings ?? [])],
    })),
  };
}

/**
 * Bytes: `indexBytes` (InRelease, Packages fetched while planning), `packageBytes` (.debs fetched),
 * `bytes` (both), `neededBytes` (the planned .debs' sizes, whether fetched or cached).
 */
export function downloadJson(p: PlatformResult): {
  bytes: number;
  indexBytes: number;
  packageBytes: number;
  neededBytes: number;
  fromCache: number;
  files: number;
} {
  const packageBytes = p.download?.bytes ?? 0;
  return {
    bytes: p.indexBytes + packageBytes,
    indexBytes: p.indexBytes,
    packageBytes,
    neededBytes: p.plan.downloadSize,
    fromCache: p.download?.fromCache ?? 0,
    files: p.download?.files ?? 0,
  };
}

/** `--format json` (and `-r`) of a failed patch: the error's code, one-line message and details (failure lists). */
export function patchErrorJson(source: string, e: unknown): Record<string, unknown> {
  const err = isOcipatchError(e)
    ? { code: e.code, message: oneLine(e), ...(e.details ? { details: e.details } : {}) }
    : { code: "INTERNAL", message: oneLine(e) };
  return {
    schemaVersion: "1.0",
    tool: { name: "ocipatch", version: VERSION },
    status: "failed",
    source: { location: source },
    error: err,
  };
}
