import { parseReference } from "../reference/reference.js";
import type { Finding, ScanResult, Severity } from "../scan/types.js";
import { VERSION } from "../version.js";
import { severityRank } from "../vulndb/severity.js";

/**
 * SARIF 2.1.0 (OASIS) of a scan, for code scanning dashboards: one rule per
 * vulnerability id, one result per finding (id × package), level and GitHub's
 * `security-severity` from the severity, the fixed version in the message and in the
 * result's properties. Results point at the image (its repository) since an image
 * has no source lines.
 */
export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";
export const SARIF_VERSION = "2.1.0";
export const SARIF_MEDIA_TYPE = "application/sarif+json";

export type SarifLevel = "error" | "warning" | "note" | "none";

/** error for Critical/High, warning for Medium, note otherwise. */
export function sarifLevel(s: Severity): SarifLevel {
  switch (s) {
    case "Critical":
    case "High":
      return "error";
    case "Medium":
      return "warning";
    default:
      return "note";
  }
}

/** GitHub code scanning's numeric severity (as a string, 0.0-10.0). */
const SECURITY_SEVERITY: Record<Severity, string> = {
  Critical: "9.5",
  High: "8.0",
  Medium: "5.5",
  Low: "2.0",
  Negligible: "0.5",
  Unknown: "0.0",
};

/** Where to read about a vulnerability, by the source of the finding or the id's form. */
export function vulnerabilityUri(f: Pick<Finding, "id" | "namespace" | "dataSource">): string | undefined {
  const id = f.id;
  const where = `${f.namespace ?? ""} ${f.dataSource}`;
  if (/^(CVE-\d+-\d+|TEMP-\d+-\w+|DSA-|DLA-)/.test(id) && /debian/.test(where))
    return `https://security-tracker.debian.org/tracker/${encodeURIComponent(id)}`;
  if (/^CVE-\d+-\d+$/.test(id) && /ubuntu/.test(where)) return `https://ubuntu.com/security/${id}`;
  if (/^USN-/.test(id)) return `https://ubuntu.com/security/notices/${id}`;
  if (/^CVE-\d+-\d+$/.test(id)) return `https://www.cve.org/CVERecord?id=${id}`;
  if (/^GHSA-/.test(id)) return `https://github.com/advisories/${id}`;
  return undefined;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The artifact results point at: the scanned image's repository, or the report file. */
function artifactUri(r: ScanResult): string {
  const ref = r.target.reference;
  if (ref) {
    try {
      const p = parseReference(ref);
      return `${p.registry}/${p.repository}`;
    } catch {
      // an unparsable reference from an imported report: fall through
    }
  }
  if (r.target.report?.path) return r.target.report.path.replace(/^\/+/, "");
  return "image";
}

function message(f: Finding): string {
  const fix =
    f.fixState === "fixed" && f.fixedVersion
      ? `fixed in ${f.fixedVersion}`
      : f.fixState === "wont-fix"
        ? "the distribution will not fix it"
        : "no fixed version yet";
  return `${f.package} ${f.installedVersion} (${f.architecture || "any"}) is affected by ${f.id} (${f.severity}): ${fix}`;
}

export interface SarifOptions {
  /** Only findings with a fixed version (what a patch can fix). */
  readonly onlyFixable?: boolean | undefined;
}

/** The SARIF log of a scan result (one run). Deterministic for the same input. */
export function toSarif(r: ScanResult, opts: SarifOptions = {}): Record<string, unknown> {
  const findings = opts.onlyFixable ? r.findings.filter((f) => f.fixState === "fixed") : r.findings;
  const byId = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = byId.get(f.id) ?? [];
    list.push(f);
    byId.set(f.id, list);
  }
  const ids = [...byId.keys()].sort(cmp);
  const ruleIndex = new Map(ids.map((id, i) => [id, i]));
  const uri = artifactUri(r);
  const rules = ids.map((id) => {
    const fs = byId.get(id)!;
    // the rule's severity is the id's highest among its findings
    const worst = fs.reduce((a, b) => (severityRank(b.severity) < severityRank(a.severity) ? b : a));
    const title = fs.find((f) => f.title)?.title;
    const help = vulnerabilityUri(worst);
    const packages = [...new Set(fs.map((f) => f.package))].sort(cmp);
    return {
      id,
      name: id.replace(/[^A-Za-z0-9]/g, ""),
      shortDescription: { text: title ? `${id}: ${title}` : id },
      fullDescription: { text: title ?? `${id} in ${packages.join(", ")}` },
      ...(help ? { helpUri: help } : {}),
      help: {
        text: `${id} (${worst.severity}) affects ${packages.join(", ")}.${help ? ` See ${help}` : ""}`,
        markdown: `**${id}** (${worst.severity}) affects ${packages.map((p) => `\`${p}\``).join(", ")}.${help ? ` See [${id}](${help}).` : ""}`,
      },
      defaultConfiguration: { level: sarifLevel(worst.severity) },
      properties: {
        "security-severity": SECURITY_SEVERITY[worst.severity],
        precision: "very-high",
        tags: ["security", "vulnerability", worst.severity.toLowerCase()],
        ...(fs[0]!.aliases.length > 0
          ? { aliases: [...new Set(fs.flatMap((f) => f.aliases))].sort(cmp) }
          : {}),
      },
    };
  });
  const results = findings.map((f) => ({
    ruleId: f.id,
    ruleIndex: ruleIndex.get(f.id)!,
    level: sarifLevel(f.severity),
    message: { text: message(f) },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri },
          region: { startLine: 1, startColumn: 1, endLine: 1, endColumn: 1 },
        },
        logicalLocations: [
          { name: f.package, fullyQualifiedName: `${f.package}@${f.installedVersion}`, kind: "package" },
        ],
      },
    ],
    partialFingerprints: {
      "ocipatch/v1": `${f.id}/${f.package}/${f.architecture}/${f.installedVersion}`,
    },
    properties: {
      package: f.package,
      installedVersion: f.installedVersion,
      fixedVersion: f.fixedVersion ?? null,
      fixState: f.fixState,
      severity: f.severity,
      architecture: f.architecture,
      sourceName: f.sourceName,
      sourceVersion: f.sourceVersion,
      dataSource: f.dataSource,
    },
  }));
  return {
    $schema: SARIF_SCHEMA,
    version: SARIF_VERSION,
    runs: [
      {
        tool: {
          driver: {
            name: "ocipatch",
            version: VERSION,
            semanticVersion: VERSION,
            rules,
          },
        },
        results,
        properties: {
          target: {
            type: r.target.type,
            reference: r.target.reference ?? null,
            digest: r.target.digest ?? null,
            platform: r.target.platform ?? null,
          },
          os: r.os ? `${r.os.id}${r.os.versionId ? ` ${r.os.versionId}` : ""}` : null,
          summary: r.summary,
        },
      },
    ],
  };
}

export function formatSarif(r: ScanResult, opts: SarifOptions = {}): string {
  return `${JSON.stringify(toSarif(r, opts), null, 2)}\n`;
}
