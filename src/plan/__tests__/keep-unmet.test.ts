import { describe, expect, it } from "vitest";
import { PackagesIndex } from "../../apt/packages.js";
import { parseParagraphs } from "../../debian/deb822.js";
import type { InstalledPackage } from "../../inventory/types.js";
import { planUpgrades } from "../planner.js";
import { universeFromIndices } from "../universe.js";

function installed(text: string): InstalledPackage[] {
  return [...parseParagraphs(text, { source: "status" })].map((p) => ({
    name: p.get("Package")!,
    version: p.get("Version")!,
    architecture: p.get("Architecture")!,
    sourceName: p.get("Source") ?? p.get("Package")!,
    sourceVersion: p.get("Version")!,
    held: false,
    dbPath: `/var/lib/dpkg/status.d/${p.get("Package")}`,
    native: { backend: "dpkg", selection: "install", multiArch: undefined, paragraph: p },
  }));
}

function universe(text: string) {
  const index = PackagesIndex.fromBytes(
    Buffer.from(text),
    {
      uri: "http://deb.example/debian-security",
      fetchUri: "http://deb.example/debian-security",
      suite: "bookworm-security",
      kind: "security",
      component: "main",
      architecture: "amd64",
      priority: 500,
    },
    "test",
  );
  return universeFromIndices([index], true);
}

const pkg = (name: string, version: string, i: number, depends?: string): string =>
  [
    `Package: ${name}`,
    `Version: ${version}`,
    "Architecture: amd64",
    ...(depends ? [`Depends: ${depends}`] : []),
    `Filename: pool/${name}_${version}_amd64.deb`,
    `Size: ${100 + i}`,
    `SHA256: ${(i + 1).toString(16).padStart(64, "0")}`,
    "Description: x",
  ].join("\n");

// a distroless-like image: ca-certificates without the openssl and debconf it declares
const STATUS = [
  "Package: ca-certificates\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nDepends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0",
  "Package: libc6\nStatus: install ok installed\nVersion: 2.36-1\nArchitecture: amd64",
].join("\n\n");
const AVAILABLE = [
  pkg("ca-certificates", "2", 0, "openssl (>= 3), debconf (>= 0.5) | debconf-2.0, libc6 (>= 2.36-2), newdep"),
  pkg("openssl", "3.0", 1),
  pkg("debconf", "1.5", 2),
  pkg("libc6", "2.36-2", 3),
  pkg("newdep", "1", 4),
].join("\n\n");

describe("planUpgrades keepUnmetDependencies (distroless images)", () => {
  const input = {
    packages: installed(STATUS),
    architecture: "amd64",
    universe: universe(AVAILABLE),
    mode: "all" as const,
  };

  it("installs every missing dependency by default, as apt would", () => {
    const plan = planUpgrades(input);
    expect(plan.newPackages.map((p) => p.package).sort()).toEqual(["debconf", "newdep", "openssl"]);
  });

  it("leaves dependencies the image already lacked unmet, but still meets new and too-old ones", () => {
    const plan = planUpgrades({ ...input, keepUnmetDependencies: true });
    // newdep is a NEW dependency of the new version: installed; libc6 is installed but too old: upgraded
    expect(plan.newPackages.map((p) => p.package)).toEqual(["newdep"]);
    expect(plan.updates.map((u) => `${u.package} ${u.targetVersion}`)).toEqual([
      "ca-certificates 2",
      "libc6 2.36-2",
    ]);
    expect(plan.warnings).toContain(
      "ca-certificates 2 depends on openssl (>= 3), which the image does not have (nor did it before): left unmet, not installed",
    );
    expect(
      plan.warnings.some((w) => w.startsWith("ca-certificates 2 depends on debconf (>= 0.5) | debconf-2.0,")),
    ).toBe(true);
  });
});
