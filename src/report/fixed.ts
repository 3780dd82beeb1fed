import type { Finding, ScanResult } from "../scan/types.js";

/** A vulnerability the patch fixed: fixable before, reported for no package after. */
export interface FixedVulnerability {
  readonly id: string;
  /** Other ids of it seen in the scan before, sorted. */
  readonly aliases: readonly string[];
  /** Its findings before the patch (one per affected package), sorted by package. */
  readonly findings: readonly Finding[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The vulnerabilities the patch fixed: ids with a fixable finding (`fixState` fixed)
 * before, and no finding at all after (neither under the id nor as an alias). A
 * vulnerability still reported for some package after the patch is not fixed for the
 * image, even if other packages were upgraded. Sorted by id.
 */
export function fixedVulnerabilities(before: ScanResult, after: ScanResult): FixedVulnerability[] {
  const stillThere = new Set<string>();
  for (const f of after.findings) {
    stillThere.add(f.id);
    for (const a of f.aliases) stillThere.add(a);
  }
  const byId = new Map<string, Finding[]>();
  for (const f of before.findings) {
    const list = byId.get(f.id) ?? [];
    list.push(f);
    byId.set(f.id, list);
  }
  const out: FixedVulnerability[] = [];
  for (const [id, findings] of byId) {
    if (!findings.some((f) => f.fixState === "fixed")) continue;
    if (stillThere.has(id)) continue;
    const aliases = [...new Set(findings.flatMap((f) => f.aliases))].filter((a) => a !== id);
    if (aliases.some((a) => stillThere.has(a))) continue;
    out.push({
      id,
      aliases: aliases.sort(cmp),
      findings: [...findings].sort(
        (a, b) => cmp(a.package, b.package) || cmp(a.architecture, b.architecture),
      ),
    });
  }
  return out.sort((a, b) => cmp(a.id, b.id));
}
