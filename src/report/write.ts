import { lstat, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OcipatchError, undefinedIfNotFound } from "../errors.js";
import { renderPlanJson } from "../plan/format.js";
import type { Plan } from "../plan/types.js";
import { parseReference, type Reference } from "../reference/reference.js";
import { formatScanJson } from "../scan/output/json.js";
import type { ScanResult } from "../scan/types.js";
import { tempSibling } from "../util/fs.js";
import { formatOpenVex } from "./openvex.js";
import type { OpenVexDocument } from "./openvex-schema.js";
import { formatPatchReport, type PatchReport } from "./patch-report.js";
import { formatSarif } from "./sarif.js";

/**
 * The file name stem of an image's reports, as kubescape names its scan report:
 * `<registry>/<repository>:<tag>` with `/` turned into `-`
 * (`docker.io-library-nginx:1.22`); a digest-only reference uses `@sha256-<12 hex>`.
 */
export function reportBaseName(ref: Reference | string): string {
  const r = typeof ref === "string" ? parseReference(ref) : ref;
  const name = `${r.registry}/${r.repository}`;
  const suffix = r.tag !== undefined ? `:${r.tag}` : `@${r.digest!.replace(":", "-").slice(0, 7 + 12)}`;
  return `${name}${suffix}`.replaceAll("/", "-");
}

export type ReportKind = "before" | "after" | "plan" | "vex" | "report" | "sarif";

export interface ReportsToWrite {
  /** File name stem: `reportBaseName(image)` unless given. */
  readonly name?: string | undefined;
  /** The image the reports are about (for the default name). */
  readonly image?: Reference | string | undefined;
  readonly before: ScanResult;
  readonly after?: ScanResult | undefined;
  readonly plan?: Plan | undefined;
  /** Not written when undefined (nothing fixed: OpenVEX needs at least one statement). */
  readonly vex?: OpenVexDocument | undefined;
  readonly report: PatchReport;
  /** Also write `<name>.sarif`: the patched image's scan (the original's when there is none). */
  readonly sarif?: boolean | undefined;
}

export interface WrittenReport {
  readonly kind: ReportKind;
  readonly path: string;
}

/**
 * Write a patch run's reports into `dir`: `<name>-before.json`, `<name>-after.json` (scan
 * JSON), `<name>-plan.json`, `<name>-vex.json` (OpenVEX), `<name>-report.json` (patch
 * report) and optionally `<name>.sarif`, each only when there is content for it. All are
 * rendered first, then written to temporary files and renamed into place, so a failure
 * leaves the directory as it was (no partial set of new reports).
 */
export async function writeReports(dir: string, reports: ReportsToWrite): Promise<WrittenReport[]> {
  const name = reports.name ?? (reports.image !== undefined ? reportBaseName(reports.image) : undefined);
  if (!name) throw new OcipatchError("USAGE", "writeReports needs a report name or the image reference");
  if (name.includes("/") || name === "." || name === "..") {
    throw new OcipatchError("USAGE", `invalid report name "${name}": no "/" allowed`);
  }
  const files: Array<{ kind: ReportKind; file: string; content: string }> = [
    { kind: "before", file: `${name}-before.json`, content: formatScanJson(reports.before) },
  ];
  if (reports.after)
    files.push({ kind: "after", file: `${name}-after.json`, content: formatScanJson(reports.after) });
  if (reports.plan)
    files.push({ kind: "plan", file: `${name}-plan.json`, content: renderPlanJson(reports.plan) });
  if (reports.vex) files.push({ kind: "vex", file: `${name}-vex.json`, content: formatOpenVex(reports.vex) });
  files.push({ kind: "report", file: `${name}-report.json`, content: formatPatchReport(reports.report) });
  if (reports.sarif) {
    files.push({
      kind: "sarif",
      file: `${name}.sarif`,
      content: formatSarif(reports.after ?? reports.before),
    });
  }

  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new OcipatchError("IO", `cannot create report directory ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // a name taken by something that is not a file would fail half-way through the renames
  for (const f of files) {
    const st = await lstat(join(dir, f.file)).catch(undefinedIfNotFound);
    if (st && !st.isFile()) {
      throw new OcipatchError("IO", `cannot write report ${join(dir, f.file)}: it exists and is not a file`);
    }
  }
  const staged: Array<{ kind: ReportKind; tmp: string; path: string }> = [];
  try {
    for (const f of files) {
      const path = join(dir, f.file);
      const tmp = tempSibling(path);
      staged.push({ kind: f.kind, tmp, path });
      await writeFile(tmp, f.content, { mode: 0o644 });
    }
    for (const s of staged) await rename(s.tmp, s.path);
  } catch (e) {
    await Promise.all(staged.map((s) => rm(s.tmp, { force: true })));
    throw new OcipatchError("IO", `cannot write reports to ${dir}: ${(e as Error).message}`, { cause: e });
  }
  return staged.map((s) => ({ kind: s.kind, path: s.path }));
}
