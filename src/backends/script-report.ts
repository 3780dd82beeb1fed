import type { ScriptReport } from "./types.js";

/**
 * One report for the whole patch: a single package's own report, or, for several, the union of
 * their findings under the packages' names (the per-package reports are in `scriptReports`).
 */
export function combineScriptReports(reports: readonly ScriptReport[]): ScriptReport {
  if (reports.length === 1) return reports[0] as ScriptReport;
  return {
    package: reports.map((r) => r.package).join(", "),
    fromVersion: reports.map((r) => r.fromVersion).join(", "),
    toVersion: reports.map((r) => r.toVersion).join(", "),
    wouldHaveDoneSomething: reports.some((r) => r.wouldHaveDoneSomething),
    findings: reports.flatMap((r) => r.findings),
    kinds: [...new Set(reports.flatMap((r) => r.kinds))],
  };
}
