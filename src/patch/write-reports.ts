import type { Reference } from "../reference/index.js";
import {
  buildOpenVex,
  buildPatchReport,
  type OpenVexDocument,
  reportBaseName,
  writeReports,
} from "../report/index.js";
import { parseImageLocation } from "../transport/parse.js";
import type { Digest } from "../util/digest.js";
import type { PatchResult, PlatformResult } from "./patch-image.js";

/** The registry reference of a location, if it is one. */
export function dockerRef(location: string | undefined): Reference | undefined {
  if (location === undefined) return undefined;
  const loc = parseImageLocation(location);
  return loc.transport === "docker" ? loc.ref : undefined;
}

/** File name stem for any location (kubescape's naming for registry references). */
export function reportStem(location: string): string {
  const ref = dockerRef(location);
  if (ref) return reportBaseName(ref);
  const s = location
    .replace(/^(oci|docker-archive):/, "")
    .replace(/[^A-Za-z0-9._:-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s || "image";
}

/** The OpenVEX document of one platform of a patch (undefined when nothing was fixed or nothing written). */
export function vexFor(result: PatchResult, p: PlatformResult, many: boolean): OpenVexDocument | undefined {
  const ref = dockerRef(result.destination) ?? dockerRef(result.source);
  const digest = (result.platforms.length > 1 ? result.written?.digest : p.patchedDigest) as
    | Digest
    | undefined;
  if (!ref || !p.after || !digest) return undefined;
  return buildOpenVex({
    before: p.before,
    after: p.after,
    imageRef: ref,
    patchedDigest: digest,
    arch: many ? undefined : p.platform.split("/")[1],
    upgraded: (p.built?.packages ?? []).map((x) => ({
      package: x.package,
      architecture: x.architecture,
      toVersion: x.toVersion,
    })),
  });
}

/**
 * `-r/--report`: per platform, the before/after scans, the applied plan, the OpenVEX
 * document, the patch report and a SARIF log, written atomically into `dir`.
 */
export async function writePatchReports(dir: string, result: PatchResult): Promise<string[]> {
  const stem = reportStem(result.destination ?? result.source);
  const many = result.platforms.length > 1;
  const files: string[] = [];
  for (const p of result.platforms) {
    const name = many ? `${stem}-${p.platform.replaceAll("/", "_")}` : stem;
    const report = buildPatchReport({
      before: p.before,
      after: p.after,
      image: { reference: result.source, digest: p.sourceDigest },
      patchedImage:
        result.destination && p.patchedDigest
          ? { reference: result.destination, digest: p.patchedDigest }
          : undefined,
      platform: p.platform,
      packages: p.built?.packages ?? [],
      keptConffiles: p.built?.keptConffiles,
      maintainerScripts: p.built?.scriptReports,
      warnings: [...p.plan.warnings, ...(p.built?.warnings ?? [])],
      dryRun: result.status === "dry-run",
    });
    const written = await writeReports(dir, {
      name,
      before: p.before,
      after: p.after,
      plan: p.plan,
      vex: vexFor(result, p, many),
      report,
      sarif: true,
    });
    files.push(...written.map((w) => w.path));
  }
  return files;
}
