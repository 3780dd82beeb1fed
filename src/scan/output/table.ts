import { SEVERITIES } from "../../vulndb/types.js";
import type { Finding, ScanResult } from "../types.js";

const COLUMNS: Array<{ title: string; get: (f: Finding) => string }> = [
  { title: "VULNERABILITY", get: (f) => f.id },
  {
    title: "PACKAGE",
    get: (f) => (f.architecture && f.architecture !== "all" ? `${f.package}:${f.architecture}` : f.package),
  },
  { title: "INSTALLED", get: (f) => f.installedVersion },
  { title: "FIXED IN", get: (f) => f.fixedVersion ?? "" },
  { title: "STATE", get: (f) => f.fixState },
  { title: "SOURCE", get: (f) => f.sourceName },
];

function describeTarget(r: ScanResult): string {
  const t = r.target;
  if (t.type === "report" && t.report) {
    const scanner = `${t.report.scanner}${t.report.scannerVersion ? ` ${t.report.scannerVersion}` : ""}`;
    return `Report: ${t.report.path} (${scanner}${t.reference ? `, image ${t.reference}` : ""})`;
  }
  if (t.reference) return `Image: ${t.reference}${t.digest ? `@${t.digest}` : ""}`;
  return "Inventory";
}

/**
 * Human-readable table grouped by severity (Critical first), like grype/trivy,
 * followed by the summary in the words of `kubescape patch`.
 */
export function formatScanTable(r: ScanResult): string {
  const lines: string[] = [];
  const os = r.os
    ? ` — ${r.os.prettyName ?? `${r.os.id} ${r.os.versionId ?? r.os.codename ?? ""}`.trim()}`
    : "";
  lines.push(`${describeTarget(r)}${os}${r.namespace ? ` [${r.namespace}]` : ""}`);
  const rows = r.findings.map((f) => COLUMNS.map((c) => c.get(f)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string =>
    `  ${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()}`;
  for (const sev of SEVERITIES) {
    const group = r.findings.filter((f) => f.severity === sev);
    if (group.length === 0) continue;
    const ids = new Set(group.map((f) => f.id)).size;
    lines.push("");
    lines.push(
      `${sev} (${ids} vulnerabilit${ids === 1 ? "y" : "ies"}, ${group.length} finding${group.length === 1 ? "" : "s"})`,
    );
    lines.push(fmt(COLUMNS.map((c) => c.title)));
    for (const f of group) lines.push(fmt(COLUMNS.map((c) => c.get(f))));
  }
  if (r.findings.length === 0) {
    lines.push("");
    lines.push("No vulnerabilities found.");
  }
  const s = r.summary;
  lines.push("");
  lines.push(`Total: ${s.total} (${SEVERITIES.map((sev) => `${sev}: ${s.bySeverity[sev]}`).join(", ")})`);
  lines.push("Vulnerability summary:");
  lines.push(`  * Total CVE's  : ${s.total}`);
  lines.push(`  * Fixable CVE's: ${s.fixable}`);
  return `${lines.join("\n")}\n`;
}
