/**
 * Importing every real grype and trivy JSON report in shared/vulndata/scanner-reports.
 * The expected counts are computed with jq from the files themselves.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importReport } from "../../src/scan/index.js";
import { jq, VULNDATA } from "./vulndb.fixtures.js";

const REPORTS = join(VULNDATA, "scanner-reports");
const files = (dir: string, re: RegExp): string[] =>
  readdirSync(join(REPORTS, dir))
    .filter((f) => re.test(f))
    .map((f) => join(REPORTS, dir, f));

const GRYPE = files("defectdojo", /^anchore_grype.*\.json$/);
const TRIVY = [...files("defectdojo", /^trivy.*\.json$/), ...files("trivy-golden", /\.json\.golden$/)];

const ARCH = `([capture("arch=(?<a>[^&#]+)").a] | first // "")`;

/** jq: the OS-package matches of a grype report, as [id, package, version, arch, fixed?, severity]. */
const GRYPE_ROWS = `[.matches[] | select(.artifact.type as $t | ["deb","apk","rpm"] | index($t))
  | [.vulnerability.id, .artifact.name, .artifact.version, ((.artifact.purl // "") | ${ARCH}),
     ((.vulnerability.fix.state == "fixed" and ((.vulnerability.fix.versions // []) | length) > 0)
       or ((.vulnerability.fixedInVersion // "") != "")),
     (.vulnerability.severity | ascii_downcase)]]`;

/** jq: the OS-package vulnerabilities of a trivy report (schema 2 or legacy), not_affected excluded. */
const TRIVY_ROWS = `[(if type == "array" then .[] else .Results[] end)
  | select(if .Class then .Class == "os-pkgs" else (.Type as $t | ["debian","ubuntu","alpine","redhat","centos","amazon","oracle","photon","suse"] | index($t)) end)
  | .Vulnerabilities // [] | .[] | select(.Status != "not_affected")
  | [.VulnerabilityID, .PkgName, .InstalledVersion, ((.PkgIdentifier.PURL // "") | ${ARCH}),
     (((.FixedVersion // "") != "") and (.Status == null or .Status == "fixed")),
     (.Severity | ascii_downcase)]]`;

type Row = [string, string, string, string, boolean, string];
const RANK = ["critical", "high", "medium", "low", "negligible", "unknown"];

function expectations(rows: Row[]): {
  findings: number;
  total: number;
  fixable: number;
  bySeverity: Record<string, number>;
} {
  const keys = new Set(rows.map((r) => r.slice(0, 4).join(" ")));
  const ids = new Map<string, string>();
  for (const r of rows) {
    const prev = ids.get(r[0]);
    if (prev === undefined || RANK.indexOf(r[5]) < RANK.indexOf(prev)) ids.set(r[0], r[5]);
  }
  const bySeverity: Record<string, number> = {};
  for (const s of ids.values()) {
    const name = s.charAt(0).toUpperCase() + s.slice(1);
    bySeverity[name] = (bySeverity[name] ?? 0) + 1;
  }
  return {
    findings: keys.size,
    total: ids.size,
    fixable: new Set(rows.filter((r) => r[4]).map((r) => r[0])).size,
    bySeverity,
  };
}

function nonZero(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v > 0));
}

describe("grype JSON reports", () => {
  it("finds the shared samples", () => {
    expect(GRYPE.length).toBe(4);
  });
  for (const file of GRYPE) {
    it(file.split("/").pop()!, async () => {
      const rows = jq(GRYPE_ROWS, file) as Row[];
      const want = expectations(rows);
      const r = await importReport(file);
      expect(r.target.report?.format).toBe("grype");
      expect(r.findings).toHaveLength(want.findings);
      expect(r.summary.total).toBe(want.total);
      expect(r.summary.fixable).toBe(want.fixable);
      expect(nonZero(r.summary.bySeverity)).toEqual(want.bySeverity);
      const matches = jq(
        '[(.matches | length), ([.matches[] | select(.artifact.type as $t | ["deb","apk","rpm"] | index($t) | not)] | length)]',
        file,
      ) as [number, number];
      expect(r.target.report?.counts).toMatchObject({ entries: matches[0], nonOs: matches[1] });
      if (matches[1] > 0) expect(r.warnings.join()).toMatch(new RegExp(`skipped ${matches[1]} finding`));
      for (const f of r.findings) {
        expect(f.fixState === "fixed").toBe(f.fixedVersion !== undefined);
        expect(f.dataSource).toBe("grype");
      }
    });
  }

  it("keeps source package, fix state and related ids of the all-fields sample", async () => {
    const file = join(REPORTS, "defectdojo/anchore_grype_check_all_fields.json");
    const r = await importReport(file);
    const krb = r.findings.find((f) => f.package === "libgssapi-krb5-2");
    expect(krb).toMatchObject({
      id: "CVE-2004-0971",
      sourceName: "krb5",
      installedVersion: "1.17-3+deb10u3",
      fixState: "not-fixed",
      severity: "Negligible",
      architecture: "amd64",
      namespace: "debian:10",
    });
    expect(r.os).toMatchObject({ id: "debian", versionId: "10" });
    expect(r.target.reference).toBe("vulnerable-image:latest");
    const wontFix = r.findings.filter((f) => f.fixState === "wont-fix").map((f) => f.package);
    expect(wontFix.sort()).toEqual(["libc-bin", "libc6"]);
  });
});

describe("trivy JSON reports", () => {
  it("finds the shared samples", () => {
    expect(TRIVY.length).toBe(9);
  });
  for (const file of TRIVY) {
    it(file.split("/").pop()!, async () => {
      const rows = jq(TRIVY_ROWS, file) as Row[];
      const want = expectations(rows);
      const r = await importReport(file);
      expect(r.target.report?.format).toBe("trivy");
      expect(r.findings).toHaveLength(want.findings);
      expect(r.summary.total).toBe(want.total);
      expect(r.summary.fixable).toBe(want.fixable);
      expect(nonZero(r.summary.bySeverity)).toEqual(want.bySeverity);
      for (const f of r.findings) expect(f.fixState === "fixed").toBe(f.fixedVersion !== undefined);
    });
  }

  it("maps every trivy status (all-statuses sample)", async () => {
    const r = await importReport(join(REPORTS, "defectdojo/trivy_all_statuses.json"));
    const state = Object.fromEntries(r.findings.map((f) => [f.id, f.fixState]));
    expect(state).toEqual({
      "CVE-2011-3374": "unknown",
      "TEMP-0841856-B18BAF": "not-fixed",
      "CVE-2018-1000876": "unknown", // status fixed but no fixed version in the report
      "CVE-2018-12697": "not-fixed",
      "CVE-2018-12698": "wont-fix",
      "CVE-2018-12699": "wont-fix",
      "CVE-2018-12934": "wont-fix",
    });
    expect(r.target.report?.counts?.notAffected).toBe(1);
    expect(r.os).toMatchObject({ id: "debian", versionId: "10.13" });
  });

  it("reads the OS of legacy (array) reports from the target name", async () => {
    const r = await importReport(join(REPORTS, "defectdojo/trivy_legacy_many_vulns.json"));
    expect(r.os).toMatchObject({ id: "debian", versionId: "10.8" });
  });

  it("skips application packages (jar) with a warning", async () => {
    const file = join(REPORTS, "defectdojo/trivy_scheme_2_many_vulns.json");
    const nonOs = jq(
      '[.Results[] | select(.Class != "os-pkgs") | .Vulnerabilities // [] | length] | add',
      file,
    );
    const r = await importReport(file);
    expect(nonOs).toBeGreaterThan(0);
    expect(r.target.report?.counts?.nonOs).toBe(nonOs);
    expect(r.warnings.join()).toMatch(/application packages \(jar\)/);
  });
});
