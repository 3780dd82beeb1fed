import { z } from "zod";
import { parseSeverityName } from "../../vulndb/severity.js";
import { shorten } from "../../vulndb/sources/types.js";
import type { FixState } from "../../vulndb/types.js";
import { archFromPurl, FindingSet, newCounts } from "./common.js";
import type { ImportedReport } from "./grype.js";

/**
 * trivy's JSON output: schema 2 (`{SchemaVersion: 2, Metadata: {OS}, Results: [...]}`) and
 * the legacy top-level array of results. OS results have `Class: "os-pkgs"` (or, in the
 * legacy shape, an OS `Type`).
 */
const OS_RESULT_TYPES = new Set([
  "alpine",
  "debian",
  "ubuntu",
  "redhat",
  "centos",
  "rocky",
  "alma",
  "amazon",
  "oracle",
  "photon",
  "suse",
  "opensuse",
  "opensuse.leap",
  "opensuse.tumbleweed",
  "sles",
  "cbl-mariner",
  "azurelinux",
  "wolfi",
  "chainguard",
  "fedora",
  "echo",
  "minimos",
  "bottlerocket",
]);

const vulnSchema = z.looseObject({
  VulnerabilityID: z.string().min(1),
  PkgName: z.string().min(1),
  PkgID: z.string().nullish(),
  InstalledVersion: z.string(),
  FixedVersion: z.string().nullish(),
  Status: z.string().nullish(),
  Severity: z.string().nullish(),
  VendorIDs: z.array(z.string()).nullish(),
  PkgIdentifier: z.looseObject({ PURL: z.string().nullish() }).nullish(),
  Title: z.string().nullish(),
  Description: z.string().nullish(),
  DataSource: z.looseObject({ ID: z.string().nullish() }).nullish(),
});

const packageSchema = z.looseObject({
  ID: z.string().nullish(),
  Name: z.string(),
  Version: z.string().nullish(),
  Release: z.string().nullish(),
  Epoch: z.number().nullish(),
  Arch: z.string().nullish(),
  SrcName: z.string().nullish(),
  SrcVersion: z.string().nullish(),
  SrcRelease: z.string().nullish(),
  SrcEpoch: z.number().nullish(),
});

const resultSchema = z.looseObject({
  Target: z.string().nullish(),
  Class: z.string().nullish(),
  Type: z.string().nullish(),
  Vulnerabilities: z.array(z.unknown()).nullish(),
  Packages: z.array(z.unknown()).nullish(),
});

const reportSchema = z.looseObject({
  SchemaVersion: z.number().nullish(),
  ArtifactName: z.string().nullish(),
  Metadata: z
    .looseObject({
      OS: z.looseObject({ Family: z.string().nullish(), Name: z.string().nullish() }).nullish(),
      RepoDigests: z.array(z.string()).nullish(),
    })
    .nullish(),
  Results: z.array(z.unknown()).nullish(),
  Trivy: z.looseObject({ Version: z.string().nullish() }).nullish(),
});

export function looksLikeTrivy(doc: unknown): boolean {
  if (Array.isArray(doc)) {
    return doc.length > 0 && doc.every((r) => typeof r === "object" && r !== null && "Target" in r);
  }
  return typeof doc === "object" && doc !== null && ("Results" in doc || "SchemaVersion" in doc);
}

const STATUS: Record<string, FixState | "not-affected"> = {
  fixed: "fixed",
  affected: "not-fixed",
  under_investigation: "not-fixed",
  will_not_fix: "wont-fix",
  fix_deferred: "wont-fix",
  end_of_life: "wont-fix",
  unknown: "unknown",
  not_affected: "not-affected",
};

function srcVersion(p: z.infer<typeof packageSchema>): string | undefined {
  if (!p.SrcVersion) return undefined;
  return `${p.SrcEpoch ? `${p.SrcEpoch}:` : ""}${p.SrcVersion}${p.SrcRelease ? `-${p.SrcRelease}` : ""}`;
}

export function importTrivy(doc: unknown, path: string): ImportedReport {
  const legacy = Array.isArray(doc);
  const report = legacy ? { Results: doc as unknown[] } : reportSchema.parse(doc);
  const counts = newCounts();
  const set = new FindingSet(counts);
  const nonOsTypes = new Set<string>();
  let legacyOs: { family: string; version: string } | undefined;
  for (const rawResult of report.Results ?? []) {
    const r = resultSchema.safeParse(rawResult);
    if (!r.success) {
      counts.invalid++;
      continue;
    }
    const res = r.data;
    const vulns = res.Vulnerabilities ?? [];
    const isOs = res.Class ? res.Class === "os-pkgs" : OS_RESULT_TYPES.has((res.Type ?? "").toLowerCase());
    counts.entries += vulns.length;
    if (!isOs) {
      counts.nonOs += vulns.length;
      if (vulns.length > 0) nonOsTypes.add(res.Type ?? res.Class ?? "unknown");
      continue;
    }
    const m = /\(([a-z.-]+) ([^)]+)\)\s*$/i.exec(res.Target ?? "");
    if (m && !legacyOs) legacyOs = { family: m[1]!, version: m[2]! };
    const pkgs = new Map<string, z.infer<typeof packageSchema>>();
    for (const p of res.Packages ?? []) {
      const pp = packageSchema.safeParse(p);
      if (pp.success) pkgs.set(pp.data.ID ?? pp.data.Name, pp.data);
    }
    for (const raw of vulns) {
      const vv = vulnSchema.safeParse(raw);
      if (!vv.success) {
        counts.invalid++;
        continue;
      }
      const v = vv.data;
      const status = v.Status ? STATUS[v.Status] : undefined;
      if (status === "not-affected") {
        counts.notAffected++;
        continue;
      }
      const fixed = v.FixedVersion?.split(",")[0]?.trim() || undefined;
      let fixState: FixState = status ?? (fixed ? "fixed" : "not-fixed");
      let notes: string | undefined;
      if (fixState === "fixed" && !fixed) {
        fixState = "unknown";
        notes = "reported fixed without a fixed version";
      }
      const pkg = pkgs.get(v.PkgID ?? "") ?? pkgs.get(v.PkgName);
      set.add({
        id: v.VulnerabilityID,
        aliases: [...new Set(v.VendorIDs ?? [])].filter((x) => x !== v.VulnerabilityID),
        package: v.PkgName,
        installedVersion: v.InstalledVersion,
        fixedVersion: fixState === "fixed" ? fixed : undefined,
        fixState,
        severity: parseSeverityName(v.Severity),
        sourceName: pkg?.SrcName ?? v.PkgName,
        sourceVersion: (pkg && srcVersion(pkg)) ?? v.InstalledVersion,
        architecture: pkg?.Arch ?? archFromPurl(v.PkgIdentifier?.PURL) ?? "",
        dataSource: "trivy",
        namespace: v.DataSource?.ID ?? undefined,
        notes,
        title: shorten(v.Title ?? v.Description ?? undefined),
      });
    }
  }
  const warnings: string[] = [];
  if (counts.nonOs > 0) {
    warnings.push(
      `skipped ${counts.nonOs} finding(s) in application packages (${[...nonOsTypes].sort().join(", ")}): ocipatch fixes OS packages only`,
    );
  }
  if (counts.invalid > 0) warnings.push(`skipped ${counts.invalid} invalid entr(y/ies) in ${path}`);
  const meta = "Metadata" in report ? report.Metadata : undefined;
  const family = meta?.OS?.Family ?? legacyOs?.family;
  const version = meta?.OS?.Name ?? legacyOs?.version;
  const name = "ArtifactName" in report ? report.ArtifactName : undefined;
  const digest = meta?.RepoDigests?.[0]?.split("@")[1];
  return {
    findings: set.findings,
    counts,
    os: family
      ? { id: family, versionId: version ?? undefined, codename: undefined, prettyName: undefined }
      : undefined,
    target: {
      type: "report",
      reference: name || undefined,
      digest,
      report: {
        path,
        format: "trivy",
        scanner: "trivy",
        scannerVersion: "Trivy" in report ? (report.Trivy?.Version ?? undefined) : undefined,
      },
    },
    warnings,
  };
}
