/**
 * `ocipatch scan` of RPM images: the harness's dnf root (sqlite rpmdb) as AlmaLinux 9.4, against
 * OSV records shaped like AlmaLinux's and Rocky Linux's (fixtures/osv-almalinux, README there
 * lists what each record must and must not match), fed through the `osv` feed. Advisories expand
 * into their CVEs; records name binary rpms and are compared with rpmvercmp (epochs, tilde,
 * caret). The root after `dnf upgrade` from the second repository state has no finding.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { buildRpmWorld, rpmQueryAll, upgradedRoot } from "../harness/rpm/repo.js";
import { runCli, tempDir } from "./vulndb.fixtures.js";

const OSV = join(import.meta.dirname, "fixtures/osv-almalinux");

let tmp: string;
let dbDir: string;
let layout: string;
let upgradedVersions: string[];

beforeAll(async () => {
  tmp = tempDir("ocipatch-scan-rpm-");
  dbDir = join(tmp, "db");
  const r = await updateDatabase({ dbDir, locations: { osv: [OSV] } });
  expect(r.failures).toEqual([]);
  const world = await buildRpmWorld(join(tmp, "world"));
  const upgraded = await upgradedRoot(world, join(tmp, "updates"));
  upgradedVersions = await rpmQueryAll(
    { ...world, root: upgraded.root },
    "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}\\n",
  );
  layout = join(tmp, "layout");
  await buildRpmImage(layout, "alma", world.root);
  await buildRpmImage(layout, "upgraded", upgraded.root);
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Finding {
  id: string;
  aliases: string[];
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
  fixState: string;
  severity: string;
  urgency: string | null;
  sourceName: string;
  dataSource: string;
}

async function scan(tag: string): Promise<{ findings: Finding[]; fixable: number }> {
  const r = await runCli([
    "scan",
    "--image",
    `oci:${layout}:${tag}`,
    "--format",
    "json",
    "--offline",
    "--db-dir",
    dbDir,
  ]);
  expect(r.stderr).not.toMatch(/\[error\]/);
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout) as {
    findings: Finding[];
    summary: { fixable: number };
    packages: number;
    namespace: string | null;
    os: { id: string; versionId: string };
    warnings: string[];
  };
  // basesh, hello, hello-libs, tool (the gpg-pubkey pseudo-package is not software)
  expect({
    packages: doc.packages,
    namespace: doc.namespace,
    os: doc.os,
    warnings: doc.warnings,
  }).toMatchObject({
    packages: 4,
    namespace: "almalinux:9",
    os: { id: "almalinux", versionId: "9.4" },
    warnings: [],
  });
  return { findings: doc.findings, fixable: doc.summary.fixable };
}

describe("ocipatch scan of an AlmaLinux 9 image (rpm backend, OSV records)", () => {
  it("finds exactly the advisories' CVEs for the binary rpms they name, with the fixed EVR", async () => {
    const { findings, fixable } = await scan("alma");
    expect(fixable).toBe(4);
    expect(
      findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} -> ${f.fixedVersion}`).sort(),
    ).toEqual([
      "CVE-2026-10001 hello 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
      "CVE-2026-10001 hello-libs 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
      "CVE-2026-10002 hello 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
      "CVE-2026-10002 hello-libs 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
      "CVE-2026-10003 tool 1.2^git20240101.abc-3.el9 -> 1.2^git20240101.abc-4.el9",
      // named for the subpackage only: matched by binary name, not by the source rpm (hello)
      "CVE-2026-10006 hello-libs 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
    ]);
    const libs = findings.find((f) => f.id === "CVE-2026-10001" && f.package === "hello-libs")!;
    expect(libs).toMatchObject({
      aliases: ["ALSA-2026:0101", "CVE-2026-10002", "RHSA-2026:0101"],
      fixState: "fixed",
      severity: "High",
      urgency: "Important",
      sourceName: "hello",
      dataSource: "osv",
    });
    expect(findings.find((f) => f.package === "tool")).toMatchObject({
      severity: "Medium",
      urgency: "Moderate",
    });
  });

  it("the root after dnf upgrade from the fixes repository has no finding", async () => {
    // the oracle says what dnf installed: the fixed versions of the advisories
    expect(upgradedVersions).toEqual([
      "basesh (none):3-1",
      "hello 2:1.0-1.el9",
      "hello-libs 2:1.0-1.el9",
      "tool (none):1.2^git20240101.abc-4.el9",
    ]);
    expect(await scan("upgraded")).toEqual({ findings: [], fixable: 0 });
  });

  it("the SBOM's purls carry the epoch as a qualifier, not in the version", async () => {
    const r = await runCli(["sbom", "--image", `oci:${layout}:alma`, "--format", "json"]);
    expect(r.code).toBe(0);
    const purls = (JSON.parse(r.stdout) as { packages: Array<{ name: string; purl: string }> }).packages
      .map((p) => p.purl)
      .sort();
    expect(purls).toEqual([
      "pkg:rpm/almalinux/basesh@3-1?arch=noarch&distro=almalinux-9.4",
      "pkg:rpm/almalinux/hello-libs@1.0~rc1-1.el9?arch=x86_64&distro=almalinux-9.4&epoch=2&upstream=hello",
      "pkg:rpm/almalinux/hello@1.0~rc1-1.el9?arch=x86_64&distro=almalinux-9.4&epoch=2",
      "pkg:rpm/almalinux/tool@1.2%5Egit20240101.abc-3.el9?arch=noarch&distro=almalinux-9.4",
    ]);
  });

  it("patch of an RPM image without repositories (none in the image, --offline): one error line, nothing written", async () => {
    const dest = join(tmp, "patched");
    const r = await runCli([
      "patch",
      "-i",
      `oci:${layout}:alma`,
      "--dest",
      `oci:${dest}:patched`,
      "--offline",
      "--db-dir",
      dbDir,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[error\] [^\n]*repositor[^\n]*\n$/i);
    expect(r.stderr).not.toMatch(/cannot patch RPM images/);
    expect(existsSync(dest)).toBe(false);
  });
});
