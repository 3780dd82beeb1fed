import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { afterAll, describe, expect, it } from "vitest";
import { upgradeScriptReport } from "../../backends/dpkg/maintainer-scripts/index.js";
import type { Plan } from "../../plan/types.js";
import type { Digest } from "../../util/digest.js";
import { buildOpenVex } from "../openvex.js";
import { parseOpenVex } from "../openvex-schema.js";
import { buildPatchReport, parsePatchReport } from "../patch-report.js";
import { reportBaseName, writeReports } from "../write.js";
import { trivyStretch } from "./fixtures.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const scanSchema = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../../docs/scan-result.schema.json"), "utf8"),
);
const validateScan = addFormats(new Ajv({ allErrors: true, strict: true })).compile(scanSchema);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), "ocipatch-reports-"));
  dirs.push(d);
  return d;
}

const E2FS = ["e2fslibs", "e2fsprogs", "libcomerr2", "libss2"];
const FROM = "1.43.4-2";
const TO = "1.43.4-2+deb9u1";
const DIGEST = `sha256:${"12".repeat(32)}` as Digest;
const BEFORE_DIGEST = `sha256:${"34".repeat(32)}`;

/** A patch of the real debian-stretch trivy scan: e2fsprogs upgraded, its CVE gone. */
function patchRun() {
  const before = trivyStretch();
  const after = {
    ...before,
    findings: before.findings.filter((f) => f.fixState !== "fixed"),
    summary: { ...before.summary, total: before.summary.total - 1, fixable: 0 },
  };
  const packages = E2FS.map((p) => ({ package: p, architecture: "amd64", fromVersion: FROM, toVersion: TO }));
  const plan: Plan = {
    mode: "targets",
    updates: E2FS.map((p) => ({
      package: p,
      name: p,
      architecture: "amd64",
      installedArchitecture: "amd64",
      installedVersion: FROM,
      targetVersion: TO,
      sourceName: "e2fsprogs",
      sourceVersion: TO,
      vulnerabilityIds: ["CVE-2019-5094"],
      reason: p === "e2fsprogs" ? "target" : "lockstep",
      requiredBy: [],
      suite: "stretch/updates",
      suiteKind: "security",
      component: "main",
      filename: `pool/updates/main/e/e2fsprogs/${p}_${TO}_amd64.deb`,
      url: `http://security.debian.org/debian-security/pool/updates/main/e/e2fsprogs/${p}_${TO}_amd64.deb`,
      size: 1000,
      sha256: "0".repeat(64),
    })),
    newPackages: [],
    held: [],
    unresolved: [],
    downloadSize: 4000,
    warnings: [],
  };
  const scripts = upgradeScriptReport("libcomerr2", FROM, TO, {
    old: {},
    new: { postinst: Buffer.from('#!/bin/sh\nset -e\nif [ "$1" = configure ]; then ldconfig; fi\n') },
  });
  const quiet = upgradeScriptReport("e2fsprogs", FROM, TO, {
    old: {},
    new: { postinst: Buffer.from("#!/bin/sh\nset -e\nexit 0\n") },
  });
  const report = buildPatchReport({
    before,
    after,
    image: { reference: "docker.io/library/debian:9", digest: BEFORE_DIGEST },
    patchedImage: { reference: "docker.io/library/debian:9-patched", digest: DIGEST },
    platform: "linux/amd64",
    packages: [...packages].reverse(),
    keptConffiles: [{ package: "e2fsprogs", path: "/etc/mke2fs.conf" }],
    maintainerScripts: [scripts, quiet],
    maintainerEffects: [
      { package: "libcomerr2", effect: "ldconfig", status: "not needed", detail: "same library names" },
      {
        package: "ca-certificates",
        effect: "update-ca-certificates",
        status: "applied natively",
        detail: "/etc/ssl/certs regenerated",
        paths: ["/etc/ssl/certs/ca-certificates.crt"],
      },
    ],
    warnings: ["maintainer scripts were not run"],
    createdAt: new Date("2026-03-01T12:00:00Z"),
  });
  const vex = buildOpenVex({
    before,
    after,
    imageRef: "docker.io/library/debian:9-patched",
    patchedDigest: DIGEST,
    timestamp: "2026-03-01T12:00:00Z",
    upgraded: packages,
  });
  return { before, after, plan, report, vex };
}

describe("the patch report", () => {
  it("summarises images, upgrades with the CVEs they fixed, counts, conffiles and scripts", () => {
    const { report, before } = patchRun();
    expect(report.status).toBe("patched");
    expect(report.image).toEqual({
      before: { reference: "docker.io/library/debian:9", digest: BEFORE_DIGEST },
      after: { reference: "docker.io/library/debian:9-patched", digest: DIGEST },
    });
    expect(report.packages.map((p) => p.package)).toEqual(E2FS);
    for (const p of report.packages) {
      expect(p).toEqual({
        package: p.package,
        architecture: "amd64",
        fromVersion: FROM,
        toVersion: TO,
        vulnerabilities: ["CVE-2019-5094"],
      });
    }
    expect(report.vulnerabilities).toEqual({
      before: { total: before.summary.total, fixable: 1 },
      after: { total: before.summary.total - 1, fixable: 0 },
      fixed: ["CVE-2019-5094"],
    });
    expect(report.keptConffiles).toEqual([{ package: "e2fsprogs", path: "/etc/mke2fs.conf" }]);
    expect(report.maintainerScripts.map((s) => [s.package, s.wouldHaveDoneSomething])).toEqual([
      ["e2fsprogs", false],
      ["libcomerr2", true],
    ]);
    expect(report.maintainerScripts[1]!.kinds).toContain("ldconfig");
    expect(report.maintainerScripts[1]!.summary).toMatch(/^libcomerr2: postinst \(.*ldconfig.*\)$/);
    // each reproduced effect with its status, sorted by package
    expect(report.maintainerEffects).toEqual([
      {
        package: "ca-certificates",
        effect: "update-ca-certificates",
        status: "applied natively",
        detail: "/etc/ssl/certs regenerated",
      },
      { package: "libcomerr2", effect: "ldconfig", status: "not needed", detail: "same library names" },
    ]);
    expect(parsePatchReport(JSON.parse(JSON.stringify(report)))).toEqual(report);
    // a report written before maintainerEffects existed still reads
    const { maintainerEffects: _, ...older } = JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
    expect(parsePatchReport(older).maintainerEffects).toEqual([]);
    expect(() =>
      parsePatchReport({ ...report, maintainerEffects: [{ ...report.maintainerEffects[0], status: "ran" }] }),
    ).toThrow(/maintainerEffects/);
  });

  it("a dry run has no patched image and lists the fixable CVEs per package", () => {
    const before = trivyStretch();
    const r = buildPatchReport({
      before,
      image: { reference: "debian:9" },
      packages: [{ package: "libss2", architecture: "amd64", fromVersion: FROM, toVersion: TO }],
      dryRun: true,
    });
    expect(r.status).toBe("dry-run");
    expect(r.image.after).toBeNull();
    expect(r.vulnerabilities.after).toBeNull();
    expect(r.vulnerabilities.fixed).toEqual([]);
    expect(r.packages[0]!.vulnerabilities).toEqual(["CVE-2019-5094"]);
  });

  it("nothing to patch is its own status; bad documents are refused", () => {
    const before = trivyStretch();
    const r = buildPatchReport({ before, after: before, image: { reference: "debian:9" }, packages: [] });
    expect(r.status).toBe("nothing-to-patch");
    expect(() => parsePatchReport({ ...r, schemaVersion: "2.0" })).toThrow(/schemaVersion/);
    expect(() => parsePatchReport({ ...r, packages: [{ package: "x" }] })).toThrow(
      /patch report is not valid at packages\.0/,
    );
  });
});

describe("writeReports", () => {
  it("names files like kubescape", () => {
    expect(reportBaseName("nginx:1.22")).toBe("docker.io-library-nginx:1.22");
    expect(reportBaseName("127.0.0.1:5000/team/app:v1-patched")).toBe("127.0.0.1:5000-team-app:v1-patched");
    expect(reportBaseName(`ghcr.io/org/app@${DIGEST}`)).toBe("ghcr.io-org-app@sha256-121212121212");
  });

  it("writes before/after/plan/vex/report/sarif files that parse back and validate", async () => {
    const run = patchRun();
    const dir = join(scratch(), "reports");
    const written = await writeReports(dir, { ...run, image: "docker.io/library/debian:9", sarif: true });
    const name = "docker.io-library-debian:9";
    expect(written.map((w) => [w.kind, w.path])).toEqual([
      ["before", join(dir, `${name}-before.json`)],
      ["after", join(dir, `${name}-after.json`)],
      ["plan", join(dir, `${name}-plan.json`)],
      ["vex", join(dir, `${name}-vex.json`)],
      ["report", join(dir, `${name}-report.json`)],
      ["sarif", join(dir, `${name}.sarif`)],
    ]);
    expect(readdirSync(dir).sort()).toEqual(written.map((w) => w.path.slice(dir.length + 1)).sort());
    const read = (kind: string) =>
      JSON.parse(readFileSync(written.find((w) => w.kind === kind)!.path, "utf8"));
    for (const kind of ["before", "after"]) {
      expect(validateScan(read(kind)), JSON.stringify(validateScan.errors)).toBe(true);
    }
    expect(read("before").summary.fixable).toBe(1);
    expect(read("after").summary.fixable).toBe(0);
    expect(read("plan").updates.map((u: { package: string }) => u.package)).toEqual(E2FS);
    const vex = parseOpenVex(read("vex"));
    expect(vex.statements.map((s) => s.vulnerability.name)).toEqual(["CVE-2019-5094"]);
    expect(parsePatchReport(read("report"))).toEqual(run.report);
    // the SARIF is the patched image's scan: nothing fixable left in it
    const sarif = read("sarif");
    expect(sarif.version).toBe("2.1.0");
    expect(
      sarif.runs[0].results.every(
        (r: { properties: { fixState: string } }) => r.properties.fixState !== "fixed",
      ),
    ).toBe(true);
    expect(sarif.runs[0].results).toHaveLength(run.after.findings.length);
  });

  it("skips the files it has nothing for", async () => {
    const before = trivyStretch();
    const report = buildPatchReport({ before, image: { reference: "debian:9" }, packages: [], dryRun: true });
    const dir = scratch();
    const written = await writeReports(dir, { name: "dry", before, report });
    expect(written.map((w) => w.kind)).toEqual(["before", "report"]);
    expect(readdirSync(dir).sort()).toEqual(["dry-before.json", "dry-report.json"]);
  });

  it("changes nothing when one of the names is taken by a directory, and leaves no temporary files", async () => {
    const run = patchRun();
    const dir = scratch();
    writeFileSync(join(dir, "x-before.json"), "old\n");
    mkdirSync(join(dir, "x-report.json"));
    await expect(writeReports(dir, { ...run, name: "x" })).rejects.toMatchObject({
      code: "IO",
      message: expect.stringContaining("x-report.json: it exists and is not a file"),
    });
    expect(readdirSync(dir).sort()).toEqual(["x-before.json", "x-report.json"]);
    expect(readFileSync(join(dir, "x-before.json"), "utf8")).toBe("old\n");
  });

  it("refuses names with a slash and a missing name", async () => {
    const run = patchRun();
    await expect(writeReports(scratch(), { ...run, name: "../x" })).rejects.toMatchObject({ code: "USAGE" });
    await expect(writeReports(scratch(), { ...run })).rejects.toMatchObject({ code: "USAGE" });
  });
});
