/**
 * Importing Copacetic update manifests (`--vuln-report`). The v1alpha1 manifests are made
 * from the real trivy reports in shared/vulndata the way copa's trivy parser makes them
 * (OS results, entries with a fixed version), so the import can be checked against the
 * trivy import of the same report.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { importReport, importReportDocument } from "../../src/scan/index.js";
import { VULNDATA } from "./vulndb.fixtures.js";

const REPORTS = join(VULNDATA, "scanner-reports");
const TRIVY = [
  ...readdirSync(join(REPORTS, "trivy-golden"))
    .filter((f) => f.endsWith(".json.golden"))
    .map((f) => join(REPORTS, "trivy-golden", f)),
  join(REPORTS, "defectdojo", "trivy_scheme_2_many_vulns.json"),
  join(REPORTS, "defectdojo", "trivy_all_statuses.json"),
];

/** jq: copa's trivy → v1alpha1 conversion (OS results only; entries without a fixed version dropped). */
const TO_COPA = `{apiVersion: "v1alpha1",
  metadata: {os: {type: .Metadata.OS.Family, version: .Metadata.OS.Name},
             config: {arch: (.Metadata.ImageConfig.architecture // "amd64")}},
  updates: [.Results[] | select(.Class == "os-pkgs") | .Vulnerabilities // [] | .[]
            | select((.FixedVersion // "") != "" and (.Status == null or .Status == "fixed"))
            | {name: .PkgName, installedVersion: .InstalledVersion,
               fixedVersion: .FixedVersion, vulnerabilityID: .VulnerabilityID}]}`;

const dir = mkdtempSync(join(tmpdir(), "ocipatch-copa-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function copaFrom(trivyFile: string): string {
  const out = join(dir, `${trivyFile.split("/").pop()}.copa.json`);
  writeFileSync(out, execFileSync("jq", [TO_COPA, trivyFile], { encoding: "utf8" }));
  return out;
}

const key = (f: {
  id: string;
  package: string;
  installedVersion: string;
  fixedVersion?: string | undefined;
}) => `${f.id} ${f.package} ${f.installedVersion} ${f.fixedVersion ?? ""}`;

describe("copa v1alpha1 update manifests made from real trivy reports", () => {
  for (const file of TRIVY) {
    it(file.split("/").pop()!, async () => {
      const trivy = await importReport(file);
      const copaFile = copaFrom(file);
      const copa = await importReport(copaFile);
      expect(copa.target.report?.format).toBe("copa");
      expect(copa.target.report?.scanner).toBe("copa-v1alpha1");
      expect(copa.target.platform).toBe("linux/amd64");
      expect(copa.os?.id).toBe(trivy.os?.id);
      expect(copa.os?.versionId).toBe(trivy.os?.versionId);
      // exactly trivy's fixable findings, every one fixable
      const fixable = trivy.findings.filter((f) => f.fixState === "fixed");
      expect(copa.findings.map(key).sort()).toEqual([...new Set(fixable.map(key))].sort());
      expect(copa.findings.every((f) => f.fixState === "fixed" && f.dataSource === "copa")).toBe(true);
      expect(copa.summary.fixable).toBe(trivy.summary.fixable);
      expect(copa.summary.total).toBe(new Set(fixable.map((f) => f.id)).size);
      expect(copa.target.report?.counts?.entries).toBe(
        copa.findings.length + copa.target.report!.counts!.duplicates,
      );
    });
  }

  it("the debian-buster manifest carries libidn2-0's fix", async () => {
    const copa = await importReport(copaFrom(join(REPORTS, "trivy-golden", "debian-buster.json.golden")));
    expect(copa.findings).toHaveLength(1);
    expect(copa.findings[0]).toMatchObject({
      id: "CVE-2019-18224",
      package: "libidn2-0",
      installedVersion: "2.0.5-1",
      fixedVersion: "2.0.5-1+deb10u1",
      fixState: "fixed",
      severity: "Unknown",
      sourceName: "libidn2-0",
      architecture: "",
    });
    expect(copa.os).toEqual({ id: "debian", versionId: "10.1", codename: undefined, prettyName: undefined });
  });
});

describe("copa manifests: shapes and bad input", () => {
  const ubuntu = {
    apiVersion: "v1alpha2",
    metadata: { os: { type: "Ubuntu", version: "22.04" }, config: { arch: "arm64", variant: "v8" } },
    osupdates: [
      {
        name: "libssl3",
        installedVersion: "3.0.2-0ubuntu1.10",
        fixedVersion: "3.0.2-0ubuntu1.12",
        vulnerabilityID: "CVE-2023-5678",
        type: "ubuntu",
        class: "os-pkgs",
      },
      {
        name: "openssl",
        installedVersion: "3.0.2-0ubuntu1.10",
        fixedVersion: "3.0.2-0ubuntu1.12",
        vulnerabilityID: "CVE-2023-5678",
      },
      // the same entry twice (copa plugins repeat per path)
      {
        name: "openssl",
        installedVersion: "3.0.2-0ubuntu1.10",
        fixedVersion: "3.0.2-0ubuntu1.12",
        vulnerabilityID: "CVE-2023-5678",
      },
      {
        name: "tar",
        installedVersion: "1.34+dfsg-1ubuntu0.1.22.04.1",
        fixedVersion: "",
        vulnerabilityID: "CVE-2023-39804",
      },
      { name: "", installedVersion: "1", fixedVersion: "2", vulnerabilityID: "CVE-0" },
    ],
    langupdates: [
      {
        name: "requests",
        installedVersion: "2.25.0",
        fixedVersion: "2.31.0",
        vulnerabilityID: "CVE-2023-32681",
        type: "python-pkg",
        class: "lang-pkgs",
      },
    ],
  };

  it("reads v1alpha2: osupdates imported, langupdates skipped, duplicates and invalid entries counted", () => {
    const r = importReportDocument(ubuntu, "ubuntu.json");
    expect(r.target.report).toMatchObject({
      format: "copa",
      scanner: "copa-v1alpha2",
      counts: { entries: 6, nonOs: 1, duplicates: 1, invalid: 1, notAffected: 0 },
    });
    expect(r.target.platform).toBe("linux/arm64/v8");
    expect(r.os?.id).toBe("ubuntu");
    expect(r.findings.map((f) => [f.package, f.fixState, f.fixedVersion ?? null])).toEqual([
      ["libssl3", "fixed", "3.0.2-0ubuntu1.12"],
      ["openssl", "fixed", "3.0.2-0ubuntu1.12"],
      ["tar", "unknown", null],
    ]);
    expect(r.summary).toMatchObject({ total: 2, fixable: 1, findings: 3 });
    expect(r.warnings).toEqual([
      "skipped 1 application package update(s) (langupdates): ocipatch fixes OS packages only",
      "skipped 1 invalid update(s) in ubuntu.json",
      "1 update(s) in ubuntu.json have no fixed version",
    ]);
    expect(importReportDocument(ubuntu, "u.json", { onlyFixed: true }).findings).toHaveLength(2);
  });

  it("an empty v1alpha1 manifest is valid and has nothing to fix", () => {
    const r = importReportDocument(
      {
        apiVersion: "v1alpha1",
        metadata: { os: { type: "debian", version: "12" }, config: { arch: "amd64" } },
        updates: [],
      },
      "empty.json",
    );
    expect(r.findings).toEqual([]);
    expect(r.summary.total).toBe(0);
  });

  it("malformed manifests are clear one-line INVALID_FORMAT errors", () => {
    const bad: [unknown, RegExp][] = [
      [{ apiVersion: "v1alpha9", metadata: {}, updates: [] }, /bad\.json: invalid report: .*apiVersion/],
      [
        { apiVersion: "v1alpha1", metadata: { os: { type: "debian" } }, updates: [] },
        /bad\.json: invalid report: .*config/,
      ],
      [
        {
          apiVersion: "v1alpha1",
          metadata: { os: { type: "debian" }, config: { arch: "amd64" } },
          updates: {},
        },
        /bad\.json: invalid report/,
      ],
    ];
    for (const [doc, re] of bad) {
      let err: unknown;
      try {
        importReportDocument(doc, "bad.json");
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: "INVALID_FORMAT" });
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain("\n");
    }
  });
});
