/**
 * Dependency-resolution corner cases, each decided by apt itself on the same data: a
 * status file and a local flat repository (file: URI) holding the newer versions. The
 * planner must agree with apt where apt succeeds without removing anything, and must report
 * (not plan) what apt could only do by removing packages or holding others back.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PackagesIndex } from "../../src/backends/dpkg/apt/packages.js";
import { planUpgrades } from "../../src/backends/dpkg/plan/planner.js";
import { universeFromIndices } from "../../src/backends/dpkg/plan/universe.js";
import { isOcipatchError } from "../../src/errors.js";
import type { Plan, PlanMode, UpgradeTarget } from "../../src/plan/types.js";
import {
  type AptSimulation,
  aptSimulate,
  debianOs,
  inventoryFromStatus,
} from "../harness/apt-host-oracle.js";

interface P {
  name: string;
  version: string;
  arch?: string;
  source?: string;
  ma?: "same" | "foreign" | "allowed";
  depends?: string;
  preDepends?: string;
  provides?: string;
  breaks?: string;
  conflicts?: string;
  priority?: string;
  hold?: boolean;
}

const fields = (p: P): string[] => {
  const f = [`Package: ${p.name}`];
  if (p.source) f.push(`Source: ${p.source}`);
  f.push(`Version: ${p.version}`, `Architecture: ${p.arch ?? "amd64"}`, "Maintainer: test <t@example.org>");
  if (p.ma) f.push(`Multi-Arch: ${p.ma}`);
  if (p.priority) f.push(`Priority: ${p.priority}`);
  if (p.preDepends) f.push(`Pre-Depends: ${p.preDepends}`);
  if (p.depends) f.push(`Depends: ${p.depends}`);
  if (p.provides) f.push(`Provides: ${p.provides}`);
  if (p.breaks) f.push(`Breaks: ${p.breaks}`);
  if (p.conflicts) f.push(`Conflicts: ${p.conflicts}`);
  return f;
};
const status = (ps: P[]): string =>
  ps
    .map((p) =>
      [
        fields(p)[0],
        `Status: ${p.hold ? "hold" : "install"} ok installed`,
        ...fields(p).slice(1),
        "Description: x",
      ].join("\n"),
    )
    .join("\n\n") + "\n";
const packages = (ps: P[]): string =>
  ps
    .map((p, i) =>
      [
        ...fields(p),
        `Filename: pool/${p.name}_${p.version.replace(":", "%3a")}_${p.arch ?? "amd64"}.deb`,
        `Size: ${1000 + i}`,
        `SHA256: ${(i + 1).toString(16).padStart(64, "0")}`,
        "Description: x",
      ].join("\n"),
    )
    .join("\n\n") + "\n";

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "ocipatch-scenarios-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let n = 0;
async function decide(
  installed: P[],
  available: P[],
  opts: {
    mode: PlanMode;
    targets?: UpgradeTarget[];
    aptArgs: string[];
    ignoreErrors?: boolean;
    architectures?: string[];
  },
): Promise<{ plan: Plan | Error; apt: AptSimulation }> {
  const dir = join(scratch, `s${n++}`);
  await rm(dir, { recursive: true, force: true });
  const repoDir = join(dir, "repo");
  await mkdir(repoDir, { recursive: true });
  await writeFile(join(dir, "status"), status(installed));
  const pk = Buffer.from(packages(available));
  await writeFile(join(repoDir, "Packages"), pk);
  // an unsigned Release (the source is trusted=yes) so that apt's file method takes the index
  await writeFile(
    join(repoDir, "Release"),
    [
      "Origin: test",
      "Suite: bookworm-security",
      "Codename: bookworm-security",
      `Date: ${new Date().toUTCString()}`,
      "Architectures: amd64 i386",
      "SHA256:",
      ` ${createHash("sha256").update(pk).digest("hex")} ${pk.length} Packages`,
      "",
    ].join("\n"),
  );
  const inv = await inventoryFromStatus(join(dir, "status"), debianOs("bookworm", "12"));
  const index = PackagesIndex.fromBytes(
    Buffer.from(packages(available)),
    {
      uri: `file:${repoDir}`,
      fetchUri: `file:${repoDir}`,
      suite: "bookworm-security",
      kind: "security",
      component: "main",
      architecture: "amd64",
      priority: 500,
    },
    "scenario",
  );
  let plan: Plan | Error;
  try {
    plan = planUpgrades({
      packages: inv.packages,
      architecture: "amd64",
      universe: universeFromIndices([index], true),
      mode: opts.mode,
      ...(opts.targets ? { targets: opts.targets } : {}),
      ...(opts.ignoreErrors ? { ignoreErrors: true } : {}),
    });
  } catch (e) {
    plan = e as Error;
  }
  const apt = await aptSimulate({
    status: join(dir, "status"),
    sources: [`deb [trusted=yes] file:${repoDir} ./`],
    architecture: "amd64",
    ...(opts.architectures ? { architectures: opts.architectures } : {}),
    args: opts.aptArgs,
    workDir: join(dir, "apt"),
  });
  return { plan, apt };
}

const planned = (plan: Plan): Map<string, string> =>
  new Map([...plan.updates, ...plan.newPackages].map((u) => [u.package, u.targetVersion] as const));
const ok = (p: Plan | Error): Plan => {
  if (p instanceof Error) throw p;
  return p;
};

describe("the planner agrees with apt", () => {
  it("exact-version siblings move in lockstep; a strict reverse dependency is upgraded too", async () => {
    const installed: P[] = [
      { name: "libfoo1", version: "1.0-1", source: "foo", ma: "same" },
      { name: "foo-bin", version: "1.0-1", source: "foo", depends: "libfoo1 (= 1.0-1)" },
      { name: "foo-plugin", version: "1.0-1", source: "foo-plugins", depends: "libfoo1 (= 1.0-1)" },
    ];
    const available: P[] = [
      { name: "libfoo1", version: "1.0-1+deb12u1", source: "foo", ma: "same" },
      { name: "foo-bin", version: "1.0-1+deb12u1", source: "foo", depends: "libfoo1 (= 1.0-1+deb12u1)" },
      {
        name: "foo-plugin",
        version: "1.0-1+b1",
        source: "foo-plugins (1.0-1)",
        depends: "libfoo1 (= 1.0-1+deb12u1)",
      },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "targets",
      targets: [{ sourceName: "foo", fixedVersion: "1.0-1+deb12u1", vulnerabilityIds: ["CVE-1"] }],
      aptArgs: ["install", "--only-upgrade", "libfoo1", "foo-bin"],
    });
    const p = ok(plan);
    expect(apt.failed).toBe(false);
    expect(planned(p)).toEqual(apt.installs);
    const plugin = p.updates.find((u) => u.package === "foo-plugin")!;
    expect(plugin.reason).toBe("dependency");
    expect(plugin.requiredBy).toEqual(["libfoo1 1.0-1+deb12u1"]);
    expect(p.updates.find((u) => u.package === "foo-bin")!.vulnerabilityIds).toEqual(["CVE-1"]);
  });

  it("a new dependency is installed, and said so", async () => {
    const installed: P[] = [
      { name: "app", version: "1", depends: "libold" },
      { name: "libold", version: "1" },
    ];
    const available: P[] = [
      { name: "app", version: "2", depends: "libold, libnew (>= 2) | libalt, libdep" },
      { name: "libnew", version: "2", depends: "libdep2" },
      { name: "libalt", version: "1" },
      { name: "libdep", version: "1" },
      { name: "libdep2", version: "1", preDepends: "libold (>= 1)" },
    ];
    const { plan, apt } = await decide(installed, available, { mode: "all", aptArgs: ["dist-upgrade"] });
    const p = ok(plan);
    expect(planned(p)).toEqual(apt.installs);
    expect(new Set(p.newPackages.map((x) => x.package))).toEqual(apt.newPackages);
    expect(p.newPackages.find((x) => x.package === "libnew")!.requiredBy).toEqual(["app 2"]);
    expect(p.warnings.join("\n")).toMatch(/new package libnew 2 is installed because app 2 depends on it/);
  });

  it("alternatives: the first one whose candidate satisfies; an installed one is upgraded", async () => {
    const installed: P[] = [
      { name: "app", version: "1", depends: "b | c" },
      { name: "b", version: "1" },
      { name: "c", version: "1" },
    ];
    const available: P[] = [
      { name: "app", version: "2", depends: "b (>= 3) | c (>= 2)" },
      { name: "b", version: "2" },
      { name: "c", version: "2" },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "targets",
      targets: [{ package: "app", vulnerabilityIds: ["X"] }],
      aptArgs: ["install", "--only-upgrade", "app"],
    });
    expect(planned(ok(plan))).toEqual(apt.installs);
    expect(apt.installs.get("c")).toBe("2");
  });

  it("virtual packages and versioned Provides", async () => {
    const installed: P[] = [{ name: "app", version: "1" }];
    const available: P[] = [
      { name: "app", version: "2", depends: "awk-virtual (>= 2), www-browser" },
      { name: "mawk", version: "1", provides: "awk-virtual (= 1)" },
      { name: "gawk", version: "5", provides: "awk-virtual (= 2)" },
      { name: "lynx", version: "2.9", provides: "www-browser" },
    ];
    const { plan, apt } = await decide(installed, available, { mode: "all", aptArgs: ["dist-upgrade"] });
    expect(apt.failed, apt.output).toBe(false);
    expect(planned(ok(plan))).toEqual(apt.installs);
  });

  it("Breaks on an installed package upgrades that package", async () => {
    const installed: P[] = [
      { name: "libx", version: "1", source: "x" },
      { name: "user", version: "1", depends: "libx" },
    ];
    const available: P[] = [
      { name: "libx", version: "2", source: "x", breaks: "user (<< 2)" },
      { name: "user", version: "2", depends: "libx (>= 2)" },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "targets",
      targets: [{ sourceName: "x", fixedVersion: "2", vulnerabilityIds: ["CVE-2"] }],
      aptArgs: ["install", "--only-upgrade", "libx"],
    });
    expect(planned(ok(plan))).toEqual(apt.installs);
    expect(ok(plan).updates.find((u) => u.package === "user")!.reason).toBe("dependency");
  });

  it("Multi-Arch: same instances of both architectures move together; :any and foreign deps", async () => {
    const installed: P[] = [
      { name: "libz", version: "1", source: "z", ma: "same" },
      { name: "libz", version: "1", source: "z", ma: "same", arch: "i386" },
      { name: "tool", version: "1", arch: "i386", depends: "perl-base, python3:any" },
      { name: "perl-base", version: "1", ma: "foreign" },
      { name: "python3", version: "1", ma: "allowed" },
    ];
    const available: P[] = [
      { name: "libz", version: "2", source: "z", ma: "same" },
      { name: "libz", version: "2", source: "z", ma: "same", arch: "i386" },
      { name: "tool", version: "2", arch: "i386", depends: "perl-base (>= 2), python3:any (>= 2)" },
      { name: "perl-base", version: "2", ma: "foreign" },
      { name: "python3", version: "2", ma: "allowed" },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "all",
      aptArgs: ["dist-upgrade"],
      architectures: ["amd64", "i386"],
    });
    expect(apt.failed, apt.output).toBe(false);
    expect(planned(ok(plan))).toEqual(apt.installs);
    expect(apt.installs.get("libz:i386")).toBe("2");
  });

  it("never downgrades, and ignores packages without newer versions", async () => {
    const installed: P[] = [
      { name: "a", version: "2" },
      { name: "b", version: "1" },
    ];
    const available: P[] = [
      { name: "a", version: "1" },
      { name: "b", version: "1.1" },
    ];
    const { plan, apt } = await decide(installed, available, { mode: "all", aptArgs: ["dist-upgrade"] });
    expect(planned(ok(plan))).toEqual(apt.installs);
    expect(apt.installs.has("a")).toBe(false);
  });
});

describe("what apt can only do by removing or holding back is reported, not planned", () => {
  it("held packages are skipped and reported; a dependency on a held package is unresolvable", async () => {
    const installed: P[] = [
      { name: "held", version: "1", hold: true },
      { name: "app", version: "1", depends: "held" },
      { name: "free", version: "1" },
    ];
    const available: P[] = [
      { name: "held", version: "2" },
      { name: "app", version: "2", depends: "held (>= 2)" },
      { name: "free", version: "2" },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "all",
      aptArgs: ["dist-upgrade"],
      ignoreErrors: true,
    });
    const p = ok(plan);
    // apt keeps both back and upgrades the rest
    expect(apt.output).toMatch(/kept back|held/);
    expect(planned(p)).toEqual(apt.installs);
    expect(p.held).toEqual([
      {
        package: "held",
        architecture: "amd64",
        installedVersion: "1",
        candidateVersion: "2",
        vulnerabilityIds: [],
      },
    ]);
    expect(p.unresolved).toHaveLength(1);
    expect(p.unresolved[0]!.package).toBe("app");
    expect(p.unresolved[0]!.reason).toMatch(/held is on hold/);
  });

  it("a Conflicts that only a removal solves: unresolved (with --ignore-errors), else a RESOLVE error", async () => {
    const installed: P[] = [
      { name: "a", version: "1" },
      { name: "b", version: "1" },
      { name: "c", version: "1" },
    ];
    const available: P[] = [
      { name: "a", version: "2", conflicts: "b" },
      { name: "c", version: "2" },
    ];
    const { plan, apt } = await decide(installed, available, {
      mode: "all",
      aptArgs: ["dist-upgrade"],
      ignoreErrors: true,
    });
    expect(apt.removals).toEqual(["b"]);
    const p = ok(plan);
    expect(planned(p)).toEqual(new Map([["c", "2"]]));
    expect(p.unresolved.map((u) => `${u.package}: ${u.reason}`)).toEqual([
      "a: a 2 breaks/conflicts with b 1 (b) and no available version avoids it",
    ]);
    const strict = await decide(installed, available, { mode: "all", aptArgs: ["dist-upgrade"] });
    expect(isOcipatchError(strict.plan, "RESOLVE")).toBe(true);
    expect((strict.plan as Error).message).toBe(
      "cannot plan source a: a 2 breaks/conflicts with b 1 (b) and no available version avoids it",
    );
  });

  it("a fixed version the suites do not have: unresolved with the reason", async () => {
    const installed: P[] = [{ name: "libq", version: "1", source: "q" }];
    const available: P[] = [{ name: "libq", version: "1.5", source: "q" }];
    const { plan } = await decide(installed, available, {
      mode: "targets",
      targets: [{ sourceName: "q", fixedVersion: "2", vulnerabilityIds: ["CVE-9"] }],
      aptArgs: ["install", "--only-upgrade", "libq"],
      ignoreErrors: true,
    });
    const p = ok(plan);
    expect(p.updates).toEqual([]);
    expect(p.unresolved).toEqual([
      {
        package: "libq",
        architecture: "amd64",
        installedVersion: "1",
        reason: "no version of source q ≥ 2 fixes every installed binary (newest: 1.5)",
        vulnerabilityIds: ["CVE-9"],
      },
    ]);
  });
});
