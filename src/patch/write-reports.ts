import { basename, join, resolve } from "node:path";
import type { Reference } from "../reference/index.js";
import {
  buildOpenVex,
  buildPatchReport,
  type OpenVexDocument,
  reportBaseName,
  writeReports,
} from "../report/index.js";
import type { LocalImageName } from "../report/purl.js";
import { parseImageLocation } from "../transport/parse.js";
import type { Digest } from "../util/digest.js";
import { writeFileAtomic } from "../util/fs.js";
import type { PatchResult, PlatformResult } from "./patch-image.js";
import { downloadJson, patchErrorJson } from "./summary.js";

/** The registry reference of a location, if it is one. */
export function dockerRef(location: string | undefined): Reference | undefined {
  if (location === undefined) return undefined;
  let loc: ReturnType<typeof parseImageLocation>;
  try {
    loc = parseImageLocation(location);
  } catch {
    return undefined; // not an image location (the root filesystem directory of --output-mode local)
  }
  return loc.transport === "docker" ? loc.ref : undefined;
}

/** File name stem for any location (kubescape's naming for registry references). */
export function reportStem(location: string): string {
  const ref = dockerRef(location);
  if (ref) return reportBaseName(ref);
  const s = location
    .replace(/^(oci|oci-archive|docker-archive|docker-daemon):/, "")
    .replace(/[^A-Za-z0-9._:-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s || "image";
}

/**
 * The name the VEX product is given: the registry reference, else (OCI layout, docker archive)
 * the archive's image name, else the layout directory or archive file name with the tag.
 */
function productName(location: string | undefined): Reference | LocalImageName | undefined {
  if (location === undefined) return undefined;
  let loc: ReturnType<typeof parseImageLocation>;
  try {
    loc = parseImageLocation(location);
  } catch {
    return undefined; // not an image location (the root filesystem directory of --output-mode local)
  }
  if (loc.transport === "docker") return loc.ref;
  if (loc.transport === "docker-archive") return loc.ref ?? { name: archiveName(loc.file) };
  if (loc.transport === "docker-daemon") return loc.ref;
  if (loc.transport === "oci-archive") return { name: archiveName(loc.file), tag: loc.tag };
  return { name: basename(resolve(loc.dir)) || "image", tag: loc.tag };
}

/** An archive's image name: its file name without the tar extension. */
function archiveName(file: string): string {
  return basename(file).replace(/\.(tar|tgz|tar\.gz)$/, "") || "image";
}

/** The OpenVEX document of one platform of a patch (undefined when nothing was fixed or nothing written). */
export function vexFor(result: PatchResult, p: PlatformResult, many: boolean): OpenVexDocument | undefined {
  const ref = productName(result.destination) ?? productName(result.source);
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
      maintainerEffects: p.built?.maintainerEffects,
      warnings: [...p.plan.warnings, ...(p.built?.warnings ?? [])],
      dryRun: result.status === "dry-run",
      download: downloadJson(p),
      notUpgraded: p.plan.unresolved.map((u) => ({
        package: u.package,
        installedVersion: u.installedVersion ?? null,
        reason: u.reason,
      })),
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

/** `-r` after a failed patch: `<name>-error.json` (see patchErrorJson) with the full failure lists. */
export async function writeFailureReport(dir: string, source: string, e: unknown): Promise<string> {
  const path = join(dir, `${reportStem(source)}-error.json`);
  await writeFileAtomic(path, `${JSON.stringify(patchErrorJson(source, e), null, 2)}\n`);
  return path;
}
