import { z } from "zod";
import { parseSeverityName } from "../../vulndb/severity.js";
import { shorten } from "../../vulndb/sources/types.js";
import type { FixState } from "../../vulndb/types.js";
import type { ImportCounts, ScanOs, ScanTarget } from "../types.js";
import { archFromPurl, FindingSet, newCounts, OS_PACKAGE_TYPES, splitSourceField } from "./common.js";

/**
 * grype's JSON output (`grype -o json`), old (0.7: `fixedInVersion`) and current
 * (`fix: {versions, state}`, `artifact.upstreams`) shapes.
 */
const matchSchema = z.looseObject({
  vulnerability: z.looseObject({
    id: z.string().min(1),
    severity: z.string().nullish(),
    namespace: z.string().nullish(),
    description: z.string().nullish(),
    fixedInVersion: z.string().nullish(),
    fix: z.looseObject({ versions: z.array(z.string()).nullish(), state: z.string().nullish() }).nullish(),
  }),
  relatedVulnerabilities: z.array(z.looseObject({ id: z.string() })).nullish(),
  artifact: z.looseObject({
    name: z.string().min(1),
    version: z.string(),
    type: z.string().nullish(),
    purl: z.string().nullish(),
    upstreams: z.array(z.looseObject({ name: z.string(), version: z.string().nullish() })).nullish(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  }),
});

const grypeReportSchema = z.looseObject({
  matches: z.array(z.unknown()),
  distro: z.looseObject({ name: z.string().nullish(), version: z.string().nullish() }).nullish(),
  descriptor: z.looseObject({ name: z.string().nullish(), version: z.string().nullish() }).nullish(),
  source: z
    .looseObject({
      type: z.string().nullish(),
      target: z.unknown(),
    })
    .nullish(),
});

export function looksLikeGrype(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && Array.isArray((doc as { matches?: unknown }).matches);
}

const STATES: Record<string, FixState> = {
  fixed: "fixed",
  "not-fixed": "not-fixed",
  "wont-fix": "wont-fix",
  unknown: "unknown",
};

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export interface ImportedReport {
  readonly findings: FindingSet["findings"];
  readonly counts: ImportCounts;
  readonly os: ScanOs | undefined;
  readonly target: ScanTarget;
  readonly warnings: string[];
}

export function importGrype(doc: unknown, path: string): ImportedReport {
  const report = grypeReportSchema.parse(doc);
  const counts = newCounts();
  const set = new FindingSet(counts);
  const nonOsTypes = new Set<string>();
  for (const raw of report.matches) {
    counts.entries++;
    const m = matchSchema.safeParse(raw);
    if (!m.success) {
      counts.invalid++;
      continue;
    }
    const { vulnerability: v, artifact: a } = m.data;
    const type = (a.type ?? "").toLowerCase();
    if (!OS_PACKAGE_TYPES.has(type)) {
      counts.nonOs++;
      nonOsTypes.add(type || "unknown");
      continue;
    }
    let fixState: FixState;
    let fixedVersion: string | undefined;
    if (v.fix) {
      fixState = STATES[v.fix.state ?? ""] ?? "unknown";
      fixedVersion = fixState === "fixed" ? (v.fix.versions ?? []).find((x) => x !== "") : undefined;
    } else {
      fixedVersion = str(v.fixedInVersion);
      fixState = fixedVersion ? "fixed" : "not-fixed";
    }
    let notes: string | undefined;
    if (fixState === "fixed" && !fixedVersion) {
      fixState = "unknown";
      notes = "reported fixed without a fixed version";
    }
    const meta = a.metadata ?? {};
    const src = splitSourceField(str(meta["Source"]) ?? str(meta["source"]));
    const upstream = a.upstreams?.[0];
    set.add({
      id: v.id,
      aliases: [...new Set((m.data.relatedVulnerabilities ?? []).map((r) => r.id))].filter((x) => x !== v.id),
      package: a.name,
      installedVersion: a.version,
      fixedVersion,
      fixState,
      severity: parseSeverityName(v.severity),
      sourceName: upstream?.name ?? src.name ?? a.name,
      sourceVersion:
        str(upstream?.version) ??
        src.version ??
        str(meta["sourceVersion"]) ??
        str(meta["SourceVersion"]) ??
        a.version,
      architecture: str(meta["architecture"]) ?? str(meta["Architecture"]) ?? archFromPurl(a.purl) ?? "",
      dataSource: "grype",
      namespace: v.namespace ?? undefined,
      notes,
      title: shorten(v.description ?? undefined),
    });
  }
  const warnings: string[] = [];
  if (counts.nonOs > 0) {
    warnings.push(
      `skipped ${counts.nonOs} finding(s) in application packages (${[...nonOsTypes].sort().join(", ")}): ocipatch fixes OS packages only`,
    );
  }
  if (counts.invalid > 0) warnings.push(`skipped ${counts.invalid} invalid match(es) in ${path}`);
  const target = (report.source?.target ?? {}) as Record<string, unknown>;
  return {
    findings: set.findings,
    counts,
    os: report.distro?.name
      ? {
          id: report.distro.name,
          versionId: report.distro.version ?? undefined,
          codename: undefined,
          prettyName: undefined,
        }
      : undefined,
    target: {
      type: "report",
      reference: str(target["userInput"]),
      digest: str(target["manifestDigest"]),
      report: {
        path,
        format: "grype",
        scanner: report.descriptor?.name ?? "grype",
        scannerVersion: report.descriptor?.version ?? undefined,
      },
    },
    warnings,
  };
}
