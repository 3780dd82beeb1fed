import type { Finding, ImportCounts } from "../types.js";

/** Package types of OS package managers: only these findings are imported. */
export const OS_PACKAGE_TYPES = new Set(["deb", "dpkg", "apk", "rpm"]);

/** Architecture from a package URL's `arch` qualifier. */
export function archFromPurl(purl: string | undefined | null): string | undefined {
  if (!purl) return undefined;
  const q = purl.indexOf("?");
  if (q === -1) return undefined;
  const params = new URLSearchParams(purl.slice(q + 1).split("#")[0]);
  return params.get("arch") ?? undefined;
}

/** dpkg-style `Source: name (version)` → parts. */
export function splitSourceField(s: string | undefined | null): { name?: string; version?: string } {
  if (!s) return {};
  const m = /^\s*(\S+)(?:\s+\(([^)]+)\))?\s*$/.exec(s);
  return m ? { name: m[1], version: m[2] } : {};
}

export const newCounts = (): ImportCounts => ({
  entries: 0,
  nonOs: 0,
  notAffected: 0,
  duplicates: 0,
  invalid: 0,
});

/** Collects findings, dropping duplicates. */
export class FindingSet {
  readonly findings: Finding[] = [];
  private readonly keys = new Set<string>();
  constructor(private readonly counts: ImportCounts) {}
  add(f: Finding): void {
    const key = `${f.id}\u0000${f.package}\u0000${f.installedVersion}\u0000${f.architecture}`;
    if (this.keys.has(key)) {
      this.counts.duplicates++;
      return;
    }
    this.keys.add(key);
    this.findings.push(f);
  }
}
