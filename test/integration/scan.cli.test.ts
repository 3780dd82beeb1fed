/**
 * `ocipatch scan` through the CLI: report import in table and JSON form, the JSON
 * validated against the documented schema (docs/scan-result.schema.json), usage errors,
 * and the not-yet-wired --image path.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, describe, expect, it } from "vitest";
import { formatScanJson, importReport, scanInventory } from "../../src/scan/index.js";
import { updateDatabase, VulnDatabase } from "../../src/vulndb/index.js";
import { inventoryFromDpkg, runCli, TRACKER_SUBSET, tempDir, VULNDATA } from "./vulndb.fixtures.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const schema = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../docs/scan-result.schema.json"), "utf8"),
);
const ajv = addFormats(new Ajv({ allErrors: true, strict: true }));
const validate = ajv.compile(schema);
const REPORTS = join(VULNDATA, "scanner-reports");
const tmp = tempDir();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function valid(doc: unknown): void {
  const ok = validate(doc);
  expect(ok ? [] : validate.errors).toEqual([]);
}

describe("ocipatch scan --from-report", () => {
  it("prints JSON that follows the documented schema, with the library's findings and summary", async () => {
    const file = join(REPORTS, "defectdojo/anchore_grype_many_vulns3.json");
    const r = await runCli(["scan", "--from-report", file, "--format", "json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      schemaVersion: string;
      summary: { total: number; fixable: number };
      findings: Array<{ id: string; package: string; installedVersion: string; fixedVersion: string | null }>;
    };
    valid(doc);
    expect(doc.schemaVersion).toBe("1.0");
    const lib = await importReport(file);
    expect(doc.summary).toEqual(lib.summary);
    expect(doc.findings.map((f) => [f.id, f.package, f.installedVersion, f.fixedVersion])).toEqual(
      lib.findings.map((f) => [f.id, f.package, f.installedVersion, f.fixedVersion ?? null]),
    );
    expect(r.stderr).toMatch(/\[warning\] skipped \d+ finding\(s\) in application packages/);
  });

  it("--only-fixed keeps fixable findings only (total = fixable)", async () => {
    const file = join(REPORTS, "trivy-golden/debian-stretch.json.golden");
    const r = await runCli(["scan", "--from-report", file, "--format", "json", "--only-fixed"]);
    const doc = JSON.parse(r.stdout) as {
      summary: { total: number; fixable: number };
      findings: Array<{ fixState: string }>;
    };
    valid(doc);
    expect(doc.findings.length).toBeGreaterThan(0);
    expect(doc.findings.every((f) => f.fixState === "fixed")).toBe(true);
    expect(doc.summary.total).toBe(doc.summary.fixable);
  });

  it("prints a table grouped by severity, most severe first, with the kubescape-style summary", async () => {
    const file = join(REPORTS, "defectdojo/anchore_grype_check_all_fields.json");
    const lib = await importReport(file);
    const r = await runCli(["scan", "--from-report", file]);
    expect(r.code).toBe(0);
    const headings = [...r.stdout.matchAll(/^(Critical|High|Medium|Low|Negligible|Unknown) \(/gm)].map(
      (m) => m[1],
    );
    const present = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"].filter((s) =>
      lib.findings.some((f) => f.severity === s),
    );
    expect(headings).toEqual(present);
    expect(r.stdout).toContain(`  * Total CVE's  : ${lib.summary.total}`);
    expect(r.stdout).toContain(`  * Fixable CVE's: ${lib.summary.fixable}`);
    for (const f of lib.findings) expect(r.stdout).toContain(f.id);
  });

  it("writes to --output instead of stdout", async () => {
    const out = join(tmp, "report.json");
    const r = await runCli([
      "scan",
      "--from-report",
      join(REPORTS, "trivy-golden/ubuntu-1804.json.golden"),
      "--format",
      "json",
      "-o",
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    valid(JSON.parse(readFileSync(out, "utf8")));
  });

  it("writes --output into a file that is a mount point (a bind-mounted file); a failure there leaves it empty", async () => {
    expect(process.getuid?.(), "mounting needs root").toBe(0);
    const fs = join(tmp, "bound-fs");
    mkdirSync(fs);
    const out = join(tmp, "bound-report.json");
    writeFileSync(out, "");
    for (const size of ["1m", "4k"]) {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", fs]);
      const backing = join(fs, "backing.json");
      writeFileSync(backing, "an older report");
      execFileSync("mount", ["--bind", backing, out]);
      try {
        const r = await runCli([
          "scan",
          "--from-report",
          join(REPORTS, "defectdojo/anchore_grype_many_vulns3.json"),
          "--format",
          "json",
          "-o",
          out,
        ]);
        if (size === "1m") {
          expect(r.stderr).not.toContain("[error]");
          expect(r.code).toBe(0);
          valid(JSON.parse(readFileSync(backing, "utf8")));
        } else {
          // the report (~100 kB) is larger than the file system holding the file: the write fails midway
          expect(r.code).not.toBe(0);
          expect(r.stderr).toMatch(/^\[error\] cannot write .*bound-report\.json: ENOSPC$/m);
          expect(readFileSync(backing).length).toBe(0);
        }
      } finally {
        execFileSync("umount", [out]);
        execFileSync("umount", [fs]);
      }
      // no temporary file is left beside it
      expect(readdirSync(tmp).filter((n) => n.includes("bound-report.json.tmp"))).toEqual([]);
    }
  });

  it("fails clearly on a file that is not a scanner report", async () => {
    const r = await runCli([
      "scan",
      "--from-report",
      join(VULNDATA, "alpine/vuln-list-v3.21-main/musl.json"),
    ]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/\[error\] .*musl\.json is neither a grype nor a trivy JSON report/);
    const missing = await runCli(["scan", "--from-report", join(tmp, "nope.json")]);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/\[error\] cannot read report .*nope\.json/);
  });
});

describe("ocipatch scan usage", () => {
  it("needs exactly one of --image and --from-report, and a known format", async () => {
    expect((await runCli(["scan"])).code).toBe(2);
    const both = await runCli(["scan", "--image", "x", "--from-report", "y"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exactly one of --image REF or --from-report FILE/);
    const fmt = await runCli(["scan", "--from-report", "y", "--format", "xml"]);
    expect(fmt.code).toBe(2);
  });

  it("--image of an unreachable registry: one line naming it, exit 5", async () => {
    const r = await runCli([
      "scan",
      "--image",
      "registry.invalid/foo:1",
      "--offline",
      "--db-dir",
      join(tmp, "none"),
    ]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^(\[info\].*\n)*\[error\] [^\n]*registry\.invalid[^\n]*\n$/);
  });
});

describe("scan JSON of a real inventory", () => {
  it("follows the schema, with database metadata", async () => {
    const dir = join(tmp, "db");
    await updateDatabase({ dbDir: dir, locations: { debian: [TRACKER_SUBSET] } });
    const db = VulnDatabase.open(join(dir, "vulndb.sqlite"));
    try {
      const result = scanInventory(inventoryFromDpkg("/var/lib/dpkg", "/etc/os-release"), db);
      const doc = JSON.parse(formatScanJson(result)) as { db: { feeds: unknown[] }; packages: number };
      valid(doc);
      expect(doc.db.feeds).toHaveLength(1);
      expect(doc.packages).toBe(result.packages);
    } finally {
      db.close();
    }
  });
});
