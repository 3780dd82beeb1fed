import { describe, expect, it } from "vitest";
import { formatSize, renderPlan, renderPlanJson, renderPlanTable } from "../format.js";
import type { Plan, PlannedUpdate } from "../types.js";

const update = (over: Partial<PlannedUpdate>): PlannedUpdate => ({
  package: "libssl1.1",
  name: "libssl1.1",
  architecture: "amd64",
  installedArchitecture: "amd64",
  installedVersion: "1.1.1w-0+deb11u1",
  targetVersion: "1.1.1w-0+deb11u8",
  sourceName: "openssl",
  sourceVersion: "1.1.1w-0+deb11u8",
  vulnerabilityIds: ["CVE-2024-0727", "DLA-3942-1"],
  reason: "target",
  requiredBy: [],
  suite: "bullseye-security",
  suiteKind: "security",
  component: "main",
  filename: "pool/updates/main/o/openssl/libssl1.1_1.1.1w-0+deb11u8_amd64.deb",
  url: "http://mirror.example/debian-security/pool/updates/main/o/openssl/libssl1.1_1.1.1w-0+deb11u8_amd64.deb",
  size: 1_572_864,
  sha256: "a".repeat(64),
  ...over,
});

const plan: Plan = {
  mode: "targets",
  updates: [
    update({}),
    update({ package: "openssl", name: "openssl", size: 860_160, reason: "lockstep", vulnerabilityIds: [] }),
  ],
  newPackages: [
    {
      package: "libnew1",
      name: "libnew1",
      architecture: "amd64",
      targetVersion: "2.0-1",
      sourceName: "new",
      sourceVersion: "2.0-1",
      requiredBy: ["libssl1.1 1.1.1w-0+deb11u8"],
      suite: "bullseye",
      suiteKind: "release",
      component: "main",
      filename: "pool/main/n/new/libnew1_2.0-1_amd64.deb",
      url: "http://mirror.example/debian/pool/main/n/new/libnew1_2.0-1_amd64.deb",
      size: 100,
      sha256: "b".repeat(64),
    },
  ],
  held: [
    {
      package: "libc6",
      architecture: "amd64",
      installedVersion: "2.31-13",
      candidateVersion: "2.31-13+deb11u14",
      vulnerabilityIds: ["CVE-1"],
    },
  ],
  unresolved: [
    {
      package: "foo",
      architecture: "amd64",
      installedVersion: "1",
      reason: "no version of source foo ≥ 2",
      vulnerabilityIds: ["CVE-2"],
    },
  ],
  downloadSize: 1_572_864 + 860_160 + 100,
  warnings: ["w"],
};

describe("plan rendering", () => {
  it("JSON has a top-level updates array with package, installedVersion, targetVersion and the rest", () => {
    const j = JSON.parse(renderPlanJson(plan)) as Record<string, unknown> & {
      updates: Array<Record<string, unknown>>;
    };
    expect(Object.keys(j)).toEqual([
      "mode",
      "updates",
      "newPackages",
      "held",
      "unresolved",
      "downloadSize",
      "warnings",
    ]);
    expect(j.updates[0]).toMatchObject({
      package: "libssl1.1",
      installedVersion: "1.1.1w-0+deb11u1",
      targetVersion: "1.1.1w-0+deb11u8",
      sourceName: "openssl",
      vulnerabilityIds: ["CVE-2024-0727", "DLA-3942-1"],
      size: 1_572_864,
    });
    expect(j["downloadSize"]).toBe(2_433_124);
    expect(renderPlan(plan, "json")).toBe(renderPlanJson(plan));
  });

  it("the table lists package, installed, target, source, reason, size and vulnerabilities, then the other sections", () => {
    const t = renderPlanTable(plan);
    const lines = t.split("\n");
    expect(lines[0]).toMatch(/^PACKAGE\s+INSTALLED\s+TARGET\s+SOURCE\s+REASON\s+SIZE\s+VULNERABILITIES$/);
    expect(lines[1]).toMatch(
      /^libssl1\.1\s+1\.1\.1w-0\+deb11u1\s+1\.1\.1w-0\+deb11u8\s+openssl\s+target\s+1\.5 MiB\s+CVE-2024-0727,DLA-3942-1$/,
    );
    expect(lines[2]).toMatch(/^openssl\s+.*lockstep\s+840\.0 KiB\s+-$/);
    // columns line up
    expect(lines[1]!.indexOf("1.1.1w-0+deb11u1")).toBe(lines[0]!.indexOf("INSTALLED"));
    expect(t).toContain("New packages (required by dependencies):");
    expect(t).toMatch(/libnew1\s+2\.0-1\s+new\s+100 B\s+libssl1\.1 1\.1\.1w-0\+deb11u8/);
    expect(t).toMatch(
      /Held back \(on hold in the image\):\n.*\nlibc6\s+2\.31-13\s+2\.31-13\+deb11u14\s+CVE-1/,
    );
    expect(t).toMatch(/Unresolved:\n.*\nfoo\s+1\s+no version of source foo ≥ 2\s+CVE-2/);
    expect(t.trimEnd().split("\n").at(-1)).toBe("3 packages to download, 2.3 MiB.");
  });

  it("says when there is nothing to do", () => {
    const empty: Plan = { ...plan, updates: [], newPackages: [], held: [], unresolved: [], downloadSize: 0 };
    expect(renderPlanTable(empty)).toBe("Nothing to upgrade.\n\n0 packages to download, 0 B.\n");
  });

  it("formats sizes in binary units", () => {
    expect([0, 1023, 1024, 1536, 1048576, 5 * 1024 ** 3].map(formatSize)).toEqual([
      "0 B",
      "1023 B",
      "1.0 KiB",
      "1.5 KiB",
      "1.0 MiB",
      "5.0 GiB",
    ]);
  });
});
