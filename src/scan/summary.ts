import { severityRank } from "../vulndb/severity.js";
import { type FixState, SEVERITIES, type Severity } from "../vulndb/types.js";
import type { Finding, ScanSummary } from "./types.js";

const FIX_STATES: readonly FixState[] = ["fixed", "wont-fix", "not-fixed", "unknown"];

/** Summary over unique vulnerability ids. */
export function summarize(findings: readonly Finding[]): ScanSummary {
  const sevById = new Map<string, Severity>();
  const stateById = new Map<string, FixState>();
  for (const f of findings) {
    const s = sevById.get(f.id);
    if (s === undefined || severityRank(f.severity) < severityRank(s)) sevById.set(f.id, f.severity);
    const st = stateById.get(f.id);
    if (st === undefined || FIX_STATES.indexOf(f.fixState) < FIX_STATES.indexOf(st))
      stateById.set(f.id, f.fixState);
  }
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const s of sevById.values()) bySeverity[s]++;
  const byFixState = Object.fromEntries(FIX_STATES.map((s) => [s, 0])) as Record<FixState, number>;
  for (const s of stateById.values()) byFixState[s]++;
  return {
    total: sevById.size,
    fixable: byFixState.fixed,
    findings: findings.length,
    bySeverity,
    byFixState,
  };
}

/** Most severe first, then package, then id. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      (a.package < b.package ? -1 : a.package > b.package ? 1 : 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
      (a.architecture < b.architecture ? -1 : a.architecture > b.architecture ? 1 : 0),
  );
}
