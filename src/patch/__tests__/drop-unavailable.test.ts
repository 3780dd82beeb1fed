import { describe, expect, it } from "vitest";
import type { Plan, PlannedNewPackage, PlannedUpdate } from "../../plan/types.js";
import { dropUnavailable } from "../drop-unavailable.js";

const art = {
  suite: "bookworm-security",
  suiteKind: "security" as const,
  component: "main",
  filename: "f",
  url: "u",
  size: 10,
  sha256: "0",
};
const upd = (
  pkg: string,
  source: string,
  reason: PlannedUpdate["reason"],
  requiredBy: string[] = [],
): PlannedUpdate => ({
  ...art,
  package: pkg,
  name: pkg,
  architecture: "arm64",
  installedArchitecture: "arm64",
  installedVersion: "1",
  targetVersion: "2",
  sourceName: source,
  sourceVersion: "2",
  vulnerabilityIds: reason === "target" ? [`CVE-${pkg}`] : [],
  reason,
  requiredBy,
});
const neu = (pkg: string, requiredBy: string[]): PlannedNewPackage => ({
  ...art,
  package: pkg,
  name: pkg,
  architecture: "arm64",
  targetVersion: "1",
  sourceName: pkg,
  sourceVersion: "1",
  requiredBy,
});

function plan(updates: PlannedUpdate[], newPackages: PlannedNewPackage[] = []): Plan {
  return {
    mode: "all",
    updates,
    newPackages,
    held: [],
    unresolved: [],
    downloadSize: 10 * (updates.length + newPackages.length),
    warnings: [],
  };
}

describe("dropUnavailable", () => {
  it("drops the whole source group, what needs it and what only it needed; reports each", () => {
    const p = plan(
      [
        upd("libssl3", "openssl", "target"),
        upd("openssl", "openssl", "lockstep"),
        upd("libc6", "glibc", "dependency", ["libssl3 2"]),
        upd("curl", "curl", "target"),
        upd("libcurl4", "curl", "dependency", ["curl 2"]),
        upd("tzdata", "tzdata", "target"),
        upd("app", "app", "target"),
      ],
      [neu("libnew", ["libssl3 2"]), neu("libshared", ["libssl3 2", "tzdata 2"])],
    );
    // libc6 404s: glibc goes; libssl3 needs it, so openssl goes; libnew was only for libssl3
    const out = dropUnavailable(p, [
      { name: "libc6", architecture: "arm64", reason: "2 is not on the mirror (HTTP 404)" },
    ]);
    expect(out.updates.map((u) => u.package)).toEqual(["curl", "libcurl4", "tzdata", "app"]);
    expect(out.newPackages.map((n) => n.package)).toEqual(["libshared"]);
    expect(Object.fromEntries(out.unresolved.map((u) => [u.package, u.reason]))).toEqual({
      libc6: "2 is not on the mirror (HTTP 404)",
      libssl3: "needs libc6 2, which was dropped",
      openssl: "needs libc6 2, which was dropped",
      libnew: "only needed by dropped libssl3",
    });
    expect(out.unresolved.find((u) => u.package === "libssl3")!.vulnerabilityIds).toEqual(["CVE-libssl3"]);
    expect(out.downloadSize).toBe(50);
  });

  it("returns the plan unchanged when nothing is missing from it", () => {
    const p = plan([upd("tzdata", "tzdata", "target")]);
    expect(dropUnavailable(p, [])).toBe(p);
    expect(dropUnavailable(p, [{ name: "other", architecture: "arm64", reason: "x" }])).toBe(p);
  });

  it("finds a package of a foreign architecture by the name its file has (the plan shows name:arch)", () => {
    const foreign: PlannedUpdate = {
      ...upd("libz:i386", "zlib", "target"),
      name: "libz",
      architecture: "i386",
    };
    const p = plan([foreign, upd("tzdata", "tzdata", "target")]);
    const out = dropUnavailable(p, [{ name: "libz", architecture: "i386", reason: "gone" }]);
    expect(out.updates.map((u) => u.package)).toEqual(["tzdata"]);
    expect(out.unresolved.map((u) => [u.package, u.architecture, u.reason])).toEqual([
      ["libz:i386", "i386", "gone"],
    ]);
  });
});
