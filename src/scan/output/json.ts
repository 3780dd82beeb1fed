import { displayLocation } from "../../vulndb/fetch.js";
import type { Finding, ScanResult } from "../types.js";

const n = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

function findingJson(f: Finding): Record<string, unknown> {
  return {
    id: f.id,
    aliases: f.aliases,
    package: f.package,
    installedVersion: f.installedVersion,
    fixedVersion: n(f.fixedVersion),
    fixState: f.fixState,
    severity: f.severity,
    sourceName: f.sourceName,
    sourceVersion: f.sourceVersion,
    architecture: f.architecture,
    dataSource: f.dataSource,
    namespace: n(f.namespace),
    urgency: n(f.urgency),
    notes: n(f.notes),
    title: n(f.title),
  };
}

/**
 * The documented JSON document of a scan (docs/scan-json-schema.md,
 * docs/scan-result.schema.json): every key always present, `null` when unknown.
 */
function scanResultToJson(r: ScanResult): Record<string, unknown> {
  const report = r.target.report;
  return {
    schemaVersion: r.schemaVersion,
    tool: r.tool,
    createdAt: r.createdAt,
    target: {
      type: r.target.type,
      reference: n(r.target.reference),
      digest: n(r.target.digest),
      platform: n(r.target.platform),
      report: report
        ? {
            path: report.path,
            format: report.format,
            scanner: report.scanner,
            scannerVersion: n(report.scannerVersion),
            counts: n(report.counts),
          }
        : null,
    },
    os: r.os
      ? {
          id: r.os.id,
          versionId: n(r.os.versionId),
          codename: n(r.os.codename),
          prettyName: n(r.os.prettyName),
        }
      : null,
    namespace: n(r.namespace),
    db: r.db
      ? {
          path: r.db.path,
          schemaVersion: r.db.schemaVersion,
          builtAt: r.db.builtAt,
          feeds: r.db.feeds.map((f) => ({
            feed: f.feed,
            location: displayLocation(f.location),
            checkedAt: n(f.checkedAt),
            records: f.records,
          })),
        }
      : null,
    packages: n(r.packages),
    summary: r.summary,
    findings: r.findings.map(findingJson),
    warnings: r.warnings,
  };
}

export function formatScanJson(r: ScanResult): string {
  return `${JSON.stringify(scanResultToJson(r), null, 2)}\n`;
}
