import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { UpgradeTarget } from "../../../plan/types.js";
import {
  compareDepEvr,
  evalDependency,
  missingAtoms,
  parseDependency,
  rangesOverlap,
  senseOfBits,
  senseOfFlags,
} from "../deps.js";
import type { RpmHeader } from "../header.js";
import { planRpmUpgrades, type RpmPlanRepository } from "../planner.js";
import type { RpmNative } from "../record.js";
import type { RepoDependency, RepoPackage } from "../repo/primary.js";
import { parseEvr } from "../version.js";

// ── builders: a header as the rpmdb has it, a package as primary.xml lists it ──

type DepSpec = string; // "name", "name >= 1.0", "(a or b)"
const FLAG_BITS: Record<string, number> = { "<": 2, ">": 4, "=": 8, "<=": 10, ">=": 12 };
const FLAG_NAMES: Record<string, string> = { "<": "LT", ">": "GT", "=": "EQ", "<=": "LE", ">=": "GE" };

function splitDep(d: DepSpec): { name: string; op?: string; evr?: string } {
  if (d.startsWith("(")) return { name: d };
  const m = /^(\S+)\s*(<=|>=|<|>|=)\s*(\S+)$/.exec(d);
  return m ? { name: m[1]!, op: m[2]!, evr: m[3]! } : { name: d };
}

interface Spec {
  name: string;
  evr: string;
  arch?: string;
  source?: string;
  provides?: DepSpec[];
  requires?: DepSpec[];
  conflicts?: DepSpec[];
  obsoletes?: DepSpec[];
  files?: string[];
}

function installed(s: Spec): InstalledPackage {
  const e = parseEvr(s.evr);
  const dep = (d: DepSpec) => {
    const x = splitDep(d);
    return { name: x.name, flags: x.op ? FLAG_BITS[x.op]! : 0, version: x.evr ?? "" };
  };
  const source = s.source ?? s.name;
  const header = {
    name: s.name,
    version: e.version,
    release: e.release ?? "",
    epoch: e.epoch === undefined ? undefined : Number(e.epoch),
    arch: s.arch ?? "x86_64",
    sourceRpm: `${source}-${e.version}-${e.release}.src.rpm`,
    provides: [{ name: s.name, flags: 8, version: s.evr }, ...(s.provides ?? []).map(dep)],
    requires: (s.requires ?? []).map(dep),
    conflicts: (s.conflicts ?? []).map(dep),
    obsoletes: (s.obsoletes ?? []).map(dep),
    files: (s.files ?? []).map((path) => ({
      path,
      mode: 0o100644,
      flags: 0,
      digest: "",
      size: 0,
      linkTo: "",
      user: "root",
      group: "root",
    })),
    fileDigestAlgo: 8,
    tags: new Map(),
  } satisfies RpmHeader;
  const native: RpmNative = { backend: "rpm", header, hnum: 1, blob: Buffer.alloc(0) };
  return {
    name: s.name,
    version: s.evr,
    architecture: s.arch ?? "x86_64",
    sourceName: source,
    sourceVersion: `${e.epoch ? `${e.epoch}:` : ""}${e.version}-${e.release}`,
    held: false,
    dbPath: "/var/lib/rpm/rpmdb.sqlite",
    native,
  };
}

let n = 0;
function repoPkg(s: Spec): RepoPackage {
  const e = parseEvr(s.evr);
  const dep = (d: DepSpec): RepoDependency => {
    const x = splitDep(d);
    return { name: x.name, flags: x.op ? FLAG_NAMES[x.op] : undefined, evr: x.evr, pre: false };
  };
  const arch = s.arch ?? "x86_64";
  const source = s.source ?? s.name;
  n++;
  return {
    name: s.name,
    arch,
    epoch: e.epoch,
    version: e.version,
    release: e.release ?? "",
    evr: s.evr,
    checksum: { type: "sha256", value: n.toString(16).padStart(64, "0") },
    location: `Packages/${s.name}-${e.version}-${e.release}.${arch}.rpm`,
    size: 1000 + n,
    sourceRpm: `${source}-${e.version}-${e.release}.src.rpm`,
    provides: [{ name: s.name, flags: "EQ", evr: s.evr, pre: false }, ...(s.provides ?? []).map(dep)],
    requires: (s.requires ?? []).map(dep),
    conflicts: (s.conflicts ?? []).map(dep),
    obsoletes: (s.obsoletes ?? []).map(dep),
    files: (s.files ?? []).map((path) => ({ path, type: "file" as const })),
  };
}

const repo = (...specs: Spec[]): RpmPlanRepository => ({
  id: "baseos",
  baseurl: "https://repo.example/9/BaseOS/x86_64/os",
  packages: specs.map(repoPkg),
});

const target = (t: Partial<UpgradeTarget>): UpgradeTarget => ({ vulnerabilityIds: ["CVE-1"], ...t });

function errorOf(f: () => unknown): OcipatchError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OcipatchError);
    return e as OcipatchError;
  }
  throw new Error("no error");
}

// ── dependency semantics ──

describe("rpm dependency ranges", () => {
  const r = (op: string, evr: string) => ({ sense: senseOfFlags(FLAG_NAMES[op]), evr });
  it("overlap as rpmdsCompare: releases only when both sides have one, epochs always", () => {
    expect(rangesOverlap(r("=", "1.0-1"), r(">=", "1.0"))).toBe(true);
    expect(rangesOverlap(r("=", "1.0-1"), r("<", "1.0"))).toBe(false);
    expect(rangesOverlap(r("=", "1.0-1"), r("<", "1.0-2"))).toBe(true);
    expect(rangesOverlap(r("=", "1.0-1"), r("=", "1.0"))).toBe(true);
    expect(rangesOverlap(r("=", "1.0"), r(">", "1:0.1"))).toBe(false);
    expect(rangesOverlap(r("=", "2:1.0~rc1-1"), r(">=", "2:1.0~rc1"))).toBe(true);
    expect(rangesOverlap(r("=", "2:1.0~rc1-1"), r(">=", "2:1.0"))).toBe(false);
    expect(rangesOverlap(r("<", "2"), r(">", "1"))).toBe(true);
    expect(rangesOverlap(r("<=", "1"), r(">=", "1"))).toBe(true);
    expect(rangesOverlap(r("<", "1"), r(">", "1"))).toBe(false);
    // an unversioned side matches anything
    expect(rangesOverlap({ sense: undefined, evr: undefined }, r("<", "0"))).toBe(true);
    expect(compareDepEvr("1.0", "0:1.0-5")).toBe(0);
    expect(senseOfBits(12)).toEqual({ less: false, greater: true, equal: true });
    expect(senseOfBits(0x4000)).toBeUndefined();
  });

  it("parses and evaluates rich dependencies", () => {
    const have = new Set(["b", "c"]);
    const has = (a: { name: string }) => have.has(a.name);
    const ev = (s: string) => evalDependency(parseDependency(s, undefined, undefined, "t"), has);
    expect(ev("(a or b)")).toBe(true);
    expect(ev("(a and b)")).toBe(false);
    expect(ev("(a if c)")).toBe(false);
    expect(ev("(a if d)")).toBe(true);
    expect(ev("(a if d else b)")).toBe(true);
    expect(ev("(a unless c)")).toBe(true);
    expect(ev("((a and b) or (c >= 2 with b))")).toBe(true);
    expect(ev("(b without c)")).toBe(false);
    expect(parseDependency("(x >= 1.2-3 or y)", undefined, undefined, "t")).toEqual({
      kind: "or",
      items: [
        {
          kind: "atom",
          atom: { name: "x", sense: { less: false, greater: true, equal: true }, evr: "1.2-3" },
        },
        { kind: "atom", atom: { name: "y", sense: undefined, evr: undefined } },
      ],
    });
    expect(
      missingAtoms(parseDependency("(a or d)", undefined, undefined, "t"), has).map((g) =>
        g.map((a) => a.name),
      ),
    ).toEqual([["a", "d"]]);
    for (const bad of ["(a or b and c)", "(a or", "(a >=)", "(a or b) c", "(a frob b)"])
      expect(errorOf(() => parseDependency(bad, undefined, undefined, "pkg 1")).code).toBe("INVALID_FORMAT");
  });
});

// ── planning ──

describe("planRpmUpgrades", () => {
  const base = [
    installed({
      name: "openssl",
      evr: "1:3.0.7-1.el9",
      source: "openssl",
      requires: ["openssl-libs = 1:3.0.7-1.el9"],
    }),
    installed({
      name: "openssl-libs",
      evr: "1:3.0.7-1.el9",
      source: "openssl",
      provides: ["libssl.so.3()(64bit)"],
    }),
    installed({ name: "curl", evr: "7.76-1.el9", requires: ["libssl.so.3()(64bit)", "/bin/sh"] }),
    installed({ name: "bash", evr: "5.1-1.el9", files: ["/bin/sh", "/bin/bash"] }),
  ];
  const openssl = (evr: string, extra: Partial<Spec> = {}) => [
    { name: "openssl", evr, source: "openssl", requires: [`openssl-libs = ${evr}`], ...extra },
    { name: "openssl-libs", evr, source: "openssl", provides: ["libssl.so.3()(64bit)"] },
  ];

  it("targets: the smallest build >= the fixed EVR, every subpackage of the source together", () => {
    const repos = [
      repo(...openssl("1:3.0.7-2.el9"), ...openssl("1:3.0.7-3.el9"), ...openssl("1:3.0.7-4.el9")),
    ];
    const plan = planRpmUpgrades({
      installed: base,
      repos,
      targets: [target({ package: "openssl-libs", fixedVersion: "1:3.0.7-3.el9" })],
      mode: "targets",
    });
    expect(
      plan.updates.map((u) => [u.package, u.targetVersion, u.reason, u.sourceName, u.sourceVersion]),
    ).toEqual([
      ["openssl", "1:3.0.7-3.el9", "target", "openssl", "1:3.0.7-3.el9"],
      ["openssl-libs", "1:3.0.7-3.el9", "target", "openssl", "1:3.0.7-3.el9"],
    ]);
    const u = plan.updates[0]!;
    expect(u.url).toBe(`https://repo.example/9/BaseOS/x86_64/os/${u.filename}`);
    expect(u.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(plan.downloadSize).toBe(plan.updates.reduce((s, x) => s + x.size, 0));
    // by source name, fixed as a source version; already fixed: nothing to do
    const bySource = planRpmUpgrades({
      installed: base,
      repos,
      targets: [target({ sourceName: "openssl", fixedVersion: "1:3.0.7-2.el9" })],
      mode: "targets",
    });
    expect(bySource.updates.map((x) => x.targetVersion)).toEqual(["1:3.0.7-2.el9", "1:3.0.7-2.el9"]);
    const fixed = planRpmUpgrades({
      installed: base,
      repos,
      targets: [target({ package: "openssl", fixedVersion: "1:3.0.7-1.el9" })],
      mode: "targets",
    });
    expect(fixed.updates).toEqual([]);
  });

  it("all: every package to the newest version of its name.arch (noarch allowed, other arches not)", () => {
    const plan = planRpmUpgrades({
      installed: base,
      repos: [
        repo(
          ...openssl("1:3.0.7-2.el9"),
          ...openssl("1:3.0.7-4.el9"),
          { name: "curl", evr: "7.76-9.el9", arch: "i686" },
          { name: "bash", evr: "5.2-1.el9", arch: "noarch", files: ["/bin/sh"] },
        ),
      ],
      targets: [],
      mode: "all",
    });
    expect(plan.updates.map((u) => [u.package, u.targetVersion, u.architecture])).toEqual([
      ["openssl", "1:3.0.7-4.el9", "x86_64"],
      ["openssl-libs", "1:3.0.7-4.el9", "x86_64"],
      ["bash", "5.2-1.el9", "noarch"],
    ]);
  });

  it("a subpackage missing from the new build: RESOLVE, or both unresolved with ignoreErrors", () => {
    const repos = [repo({ name: "openssl", evr: "1:3.0.7-5.el9", source: "openssl" })];
    const targets = [target({ sourceName: "openssl", fixedVersion: "1:3.0.7-5.el9" })];
    const e = errorOf(() => planRpmUpgrades({ installed: base, repos, targets, mode: "targets" }));
    expect(e.code).toBe("RESOLVE");
    expect(e.message).toBe(
      "cannot plan openssl: no build of openssl with openssl >= 1:3.0.7-5.el9 in the repositories for all of its installed subpackages (newest: none)",
    );
    const plan = planRpmUpgrades({ installed: base, repos, targets, mode: "targets", ignoreErrors: true });
    expect(plan.unresolved.map((u) => [u.package, u.vulnerabilityIds])).toEqual([
      ["openssl", ["CVE-1"]],
      ["openssl-libs", ["CVE-1"]],
    ]);
  });

  it("closes requires: an installed provider moves (smallest that satisfies), a missing one is added, file and rich requires", () => {
    const plan = planRpmUpgrades({
      installed: base,
      repos: [
        repo(
          {
            name: "curl",
            evr: "7.76-2.el9",
            requires: ["openssl-libs >= 1:3.0.7-3", "/usr/bin/helper", "(libnghttp2 or libnghttp3)"],
          },
          ...openssl("1:3.0.7-2.el9"),
          ...openssl("1:3.0.7-3.el9"),
          ...openssl("1:3.0.7-4.el9"),
          { name: "helper", evr: "1-1", arch: "noarch", files: ["/usr/bin/helper"] },
          { name: "libnghttp3", evr: "1-1" },
          { name: "libnghttp3", evr: "2-1" },
        ),
      ],
      targets: [target({ package: "curl" })],
      mode: "targets",
    });
    expect(plan.updates.map((u) => [u.package, u.targetVersion, u.reason, u.requiredBy])).toEqual([
      ["openssl", "1:3.0.7-3.el9", "dependency", ["curl"]],
      ["openssl-libs", "1:3.0.7-3.el9", "dependency", ["curl"]],
      ["curl", "7.76-2.el9", "target", []],
    ]);
    expect(plan.newPackages.map((p) => [p.package, p.targetVersion, p.requiredBy])).toEqual([
      ["helper", "1-1", ["curl"]],
      ["libnghttp3", "2-1", ["curl"]],
    ]);
  });

  it("unsatisfiable requires, broken installed requires and conflicts are refused", () => {
    const run = (specs: Spec[], t: UpgradeTarget) =>
      errorOf(() =>
        planRpmUpgrades({ installed: base, repos: [repo(...specs)], targets: [t], mode: "targets" }),
      ).message;
    expect(
      run([{ name: "curl", evr: "7.76-2.el9", requires: ["libfoo >= 2"] }], target({ package: "curl" })),
    ).toBe("cannot plan curl: curl 7.76-2.el9 needs libfoo >= 2, which no repository provides");
    // curl (installed, stays) needs libssl.so.3, which the new openssl-libs no longer provides
    expect(
      run(
        [
          { name: "openssl", evr: "1:3.1-1.el9", source: "openssl" },
          { name: "openssl-libs", evr: "1:3.1-1.el9", source: "openssl", provides: ["libssl.so.4()(64bit)"] },
        ],
        target({ sourceName: "openssl" }),
      ),
    ).toBe(
      "cannot plan curl: installed curl 7.76-1.el9 needs libssl.so.3()(64bit), which the planned versions no longer satisfy",
    );
    expect(
      run([{ name: "curl", evr: "7.76-2.el9", conflicts: ["bash < 6"] }], target({ package: "curl" })),
    ).toBe("cannot plan curl: curl 7.76-2.el9 conflicts with bash 5.1-1.el9 (bash < 6)");
  });

  it("obsoletes: dnf upgrade replaces an obsoleted package; a planned package's obsoletes remove installed ones", () => {
    const inst = [...base, installed({ name: "curl-minimal", evr: "7.76-1.el9" })];
    const plan = planRpmUpgrades({
      installed: inst,
      repos: [
        repo({
          name: "curl-full",
          evr: "7.76-3.el9",
          obsoletes: ["curl-minimal < 7.77"],
          provides: ["curl-minimal = 7.76-3.el9"],
        }),
      ],
      targets: [],
      mode: "all",
    });
    expect(plan.updates).toEqual([]);
    expect(plan.newPackages.map((p) => [p.package, p.replaces])).toEqual([["curl-full", ["curl-minimal"]]]);
    // an obsoletes range that does not cover the installed version does nothing
    const none = planRpmUpgrades({
      installed: inst,
      repos: [repo({ name: "curl-full", evr: "7.76-3.el9", obsoletes: ["curl-minimal < 7.0"] })],
      targets: [],
      mode: "all",
    });
    expect(none.newPackages).toEqual([]);
  });

  it("an upgrade that obsoletes another installed package replaces it (dnf upgrade erases it)", () => {
    const plan = planRpmUpgrades({
      installed: [installed({ name: "tool", evr: "1-1" }), installed({ name: "tool-extras", evr: "1-1" })],
      repos: [
        repo({ name: "tool", evr: "2-1", obsoletes: ["tool-extras < 2"], provides: ["tool-extras = 2-1"] }),
      ],
      targets: [],
      mode: "all",
    });
    expect(plan.updates.map((u) => [u.package, u.targetVersion, u.replaces])).toEqual([
      ["tool", "2-1", ["tool-extras"]],
    ]);
    expect(plan.newPackages).toEqual([]);
    expect(plan.warnings.filter((w) => w.includes("obsoletes"))).toEqual([]);
  });
});
