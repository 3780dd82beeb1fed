import { isOcipatchError, OcipatchError } from "../../errors.js";
import { readRegularFile } from "../../util/regular-file.js";
import { VERSION } from "../../version.js";
import { sortFindings, summarize } from "../summary.js";
import { SCAN_SCHEMA_VERSION, type ScanResult } from "../types.js";
import { importCopa, looksLikeCopa } from "./copa.js";
import { importGrype, looksLikeGrype } from "./grype.js";
import { importTrivy, looksLikeTrivy } from "./trivy.js";

export { importCopa } from "./copa.js";
export { importGrype } from "./grype.js";

const MAX_REPORT = 512 * 1024 * 1024;

interface ImportOptions {
  readonly onlyFixed?: boolean;
  readonly now?: Date;
  /** Gives up reading the report (a pipe that never ends) when aborted. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Read a grype or trivy JSON report, or a Copacetic update manifest (v1alpha1/v1alpha2),
 * into ocipatch's findings model (format detected from the content). Only OS-package findings are imported; the
 * result's warnings say how many others were skipped.
 */
export async function importReport(path: string, opts: ImportOptions = {}): Promise<ScanResult> {
  let text: string;
  try {
    const raw = await readRegularFile(path, MAX_REPORT, { what: "report", pipes: true, signal: opts.signal });
    text = raw.toString("utf8");
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) {
      throw new OcipatchError("NOT_FOUND", `cannot read report ${path}: it does not exist`, { cause: e });
    }
    if (e instanceof OcipatchError) throw e;
    if (opts.signal?.aborted) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new OcipatchError(
      code === "ENOENT" ? "NOT_FOUND" : "IO",
      `cannot read report ${path}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new OcipatchError("INVALID_FORMAT", `${path} is not JSON: ${(e as Error).message}`, { cause: e });
  }
  return importReportDocument(doc, path, opts);
}

export function importReportDocument(doc: unknown, path: string, opts: ImportOptions = {}): ScanResult {
  let imported: ReturnType<typeof importGrype>;
  try {
    if (looksLikeCopa(doc)) imported = importCopa(doc, path);
    else if (looksLikeGrype(doc)) imported = importGrype(doc, path);
    else if (looksLikeTrivy(doc)) imported = importTrivy(doc, path);
    else
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${path} is neither a grype nor a trivy JSON report nor a copa update manifest`,
      );
  } catch (e) {
    if (e instanceof OcipatchError) throw e;
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${path}: invalid report: ${(e as Error).message.split("\n")[0]}`,
      {
        cause: e,
      },
    );
  }
  const findings = opts.onlyFixed
    ? imported.findings.filter((f) => f.fixState === "fixed")
    : imported.findings;
  return {
    schemaVersion: SCAN_SCHEMA_VERSION,
    tool: { name: "ocipatch", version: VERSION },
    createdAt: (opts.now ?? new Date()).toISOString(),
    target: {
      ...imported.target,
      report: imported.target.report && { ...imported.target.report, counts: imported.counts },
    },
    os: imported.os,
    namespace: undefined,
    db: undefined,
    packages: undefined,
    findings: sortFindings(findings),
    summary: summarize(findings),
    warnings: imported.warnings,
  };
}
