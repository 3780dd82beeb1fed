/**
 * Real scan results for report tests: a real grype report of a Debian 10 image (shared
 * vulndata) as the scan before patching, and the same report with the fixable matches
 * removed (optionally keeping some) as the re-scan of the patched image.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { importReportDocument } from "../../scan/index.js";
import type { ScanResult } from "../../scan/types.js";
import { VULNDATA } from "../../vulndb/__tests__/shared-data.js";

const GRYPE_DEBIAN10 = join(VULNDATA, "scanner-reports/defectdojo/anchore_grype_many_vulns3.json");
const TRIVY_STRETCH = join(VULNDATA, "scanner-reports/trivy-golden/debian-stretch.json.golden");

interface GrypeMatch {
  vulnerability: { id: string; fixedInVersion?: string | null };
  artifact: { name: string; type: string };
}

const NOW = new Date("2026-03-01T12:00:00Z");

/** The scan before, and an "after" without the fixable matches except `keep` (`id package` pairs). */
export function grypeBeforeAfter(keep: readonly string[] = []): { before: ScanResult; after: ScanResult } {
  const doc = JSON.parse(readFileSync(GRYPE_DEBIAN10, "utf8")) as { matches: GrypeMatch[] };
  const before = importReportDocument(doc, GRYPE_DEBIAN10, { now: NOW });
  const afterDoc = {
    ...doc,
    matches: doc.matches.filter(
      (m) => !m.vulnerability.fixedInVersion || keep.includes(`${m.vulnerability.id} ${m.artifact.name}`),
    ),
  };
  const after = importReportDocument(afterDoc, GRYPE_DEBIAN10, { now: NOW });
  return { before, after };
}

export function trivyStretch(): ScanResult {
  return importReportDocument(JSON.parse(readFileSync(TRIVY_STRETCH, "utf8")), TRIVY_STRETCH, { now: NOW });
}

/** A purl split into its decoded parts (test oracle, independent of formatPurl). */
export function decodePurl(purl: string): {
  type: string;
  namespace: string | undefined;
  name: string;
  version: string | undefined;
  qualifiers: Record<string, string>;
} {
  const m = /^pkg:([^/]+)\/(.+?)(?:@([^?#]+))?(?:\?([^#]*))?(?:#.*)?$/.exec(purl);
  if (!m) throw new Error(`not a purl: ${purl}`);
  const path = m[2]!.split("/").map(decodeURIComponent);
  const qualifiers: Record<string, string> = {};
  for (const kv of (m[4] ?? "").split("&").filter(Boolean)) {
    const [k, v] = kv.split("=");
    qualifiers[k!] = decodeURIComponent(v ?? "");
  }
  return {
    type: m[1]!,
    namespace: path.length > 1 ? path.slice(0, -1).join("/") : undefined,
    name: path[path.length - 1]!,
    version: m[3] === undefined ? undefined : decodeURIComponent(m[3]),
    qualifiers,
  };
}
