import { describe, expect, it } from "vitest";
import { emptyPlan } from "../../../test/harness/plans.js";
import type { InstalledPackage, Inventory } from "../../inventory/types.js";
import { UNKNOWN_OS } from "../../os/detect.js";
import type { Plan, PlannedArtifact, PlannedUpdate } from "../../plan/types.js";
import { plannedPackages } from "../wanted.js";

const pkg = (name: string, architecture: string, version = "1"): InstalledPackage => ({
  name,
  version,
  architecture,
  sourceName: name,
  sourceVersion: version,
  held: false,
  dbPath: "/var/lib/dpkg/status",
  native: undefined,
});

const inventory: Inventory = {
  os: UNKNOWN_OS,
  packageManager: "dpkg",
  distroless: false,
  packages: [pkg("libz", "amd64"), pkg("libz", "i386"), pkg("tool", "amd64"), pkg("old", "amd64")],
  warnings: [],
};

const art = (file: string): PlannedArtifact => ({
  suite: "s",
  suiteKind: "security",
  component: "main",
  filename: file,
  url: `http://m/${file}`,
  size: 1,
  sha256: "0".repeat(64),
});

const update = (over: Partial<PlannedUpdate> & Pick<PlannedUpdate, "package" | "name">): PlannedUpdate => ({
  ...art(`${over.name}.deb`),
  architecture: "amd64",
  installedArchitecture: "amd64",
  installedVersion: "1",
  targetVersion: "2",
  sourceName: over.name,
  sourceVersion: "2",
  vulnerabilityIds: [],
  reason: "target",
  requiredBy: [],
  ...over,
});

const plan = (updates: PlannedUpdate[], newPackages: Plan["newPackages"] = []): Plan =>
  emptyPlan({ updates, newPackages });

describe("plannedPackages", () => {
  it("finds the installed record an update upgrades by its name and installed architecture", () => {
    const wanted = plannedPackages(
      plan(
        [
          // a foreign-architecture package: shown as name:arch, its file and record say the name
          update({ package: "libz:i386", name: "libz", architecture: "i386", installedArchitecture: "i386" }),
          update({ package: "libz", name: "libz" }),
          // the new version changes the architecture (amd64 → all)
          update({ package: "tool", name: "tool", architecture: "all" }),
        ],
        [
          {
            ...art("new.deb"),
            package: "new",
            name: "new",
            architecture: "amd64",
            targetVersion: "1",
            sourceName: "new",
            sourceVersion: "1",
            requiredBy: ["tool 2"],
            replaces: ["old"],
          },
        ],
      ),
      inventory,
    );
    expect(
      wanted.map((w) => [w.item.package, w.item.architecture, w.installed?.name, w.installed?.architecture]),
    ).toEqual([
      ["libz", "i386", "libz", "i386"],
      ["libz", "amd64", "libz", "amd64"],
      ["tool", "all", "tool", "amd64"],
      ["new", "amd64", undefined, undefined],
    ]);
    expect(wanted[3]!.replaces.map((p) => p.name)).toEqual(["old"]);
  });

  it("refuses an update of a package the image does not have (INTERNAL)", () => {
    expect(() => plannedPackages(plan([update({ package: "gone", name: "gone" })]), inventory)).toThrow(
      /the plan upgrades gone:amd64, which the image does not have installed/,
    );
  });
});
