import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { UpgradeTarget } from "../../../plan/types.js";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { parseApkIndexText } from "../apkindex.js";
import { apkBackend } from "../backend.js";
import { parseApkWorld, readApkWorld } from "../config.js";
import { parseApkInstalledDb } from "../installed-db.js";
import { apkVersionSatisfies, planApkUpgrades } from "../planner.js";
import type { ApkRepositoryIndex } from "../repositories.js";

/** Records from `name version [X:value ...]` lines (an index or installed db text). */
function text(lines: readonly string[], withChecksum: boolean): string {
  return lines
    .map((l, i) => {
      const [name, version, ...rest] = l.split(" ");
      const fields = [
        ...(withChecksum ? [`C:Q1${String(i).padStart(27, "A")}=`] : []),
        `P:${name}`,
        `V:${version}`,
        "A:x86_64",
        "S:100",
        ...rest.map((f) => f.replace(/_/g, " ")),
      ];
      return fields.join("\n");
    })
    .join("\n\n")
    .concat("\n\n");
}

function installed(lines: readonly string[], pinned: readonly string[] = []): InstalledPackage[] {
  return parseApkInstalledDb(text(lines, true)).records.map((r) => ({
    name: r.name,
    version: r.version,
    architecture: r.architecture,
    sourceName: r.origin ?? r.name,
    sourceVersion: r.version,
    held: pinned.includes(r.name),
    dbPath: "/lib/apk/db/installed",
    native: r,
  }));
}

function repo(lines: readonly string[]): ApkRepositoryIndex {
  return {
    url: "http://repo.test/v3.21/main",
    arch: "x86_64",
    entries: parseApkIndexText(text(lines, true), "test APKINDEX"),
    signedBy: "test.rsa.pub",
    bytes: 0,
  };
}

const INSTALLED = [
  "musl 1.2.5-r8 o:musl p:so:libc.musl-x86_64.so.1=1",
  "app 1.0-r0 o:app D:so:libc.musl-x86_64.so.1",
  "app-doc 1.0-r0 o:app",
  "lib 1.0-r0 o:lib p:so:libfoo.so.1=1.0",
];
const INDEX = [
  "musl 1.2.5-r8 o:musl p:so:libc.musl-x86_64.so.1=1",
  "app 1.0-r1 o:app D:so:libc.musl-x86_64.so.1",
  "app-doc 1.0-r1 o:app",
  "app 1.0-r2 o:app D:so:libc.musl-x86_64.so.1",
  "app-doc 1.0-r2 o:app",
  // app-doc has no 1.0-r3: the origin cannot move there together
  "app 1.0-r3 o:app D:so:libc.musl-x86_64.so.1",
  "lib 1.0-r0 o:lib p:so:libfoo.so.1=1.0",
];
const target = (
  sourceName: string,
  fixedVersion: string | undefined,
  id = "CVE-2025-0001",
): UpgradeTarget => ({
  sourceName,
  fixedVersion,
  vulnerabilityIds: [id],
});
const summary = (p: ReturnType<typeof planApkUpgrades>) => ({
  updates: p.updates.map((u) => `${u.package} ${u.installedVersion}->${u.targetVersion} ${u.reason}`),
  added: p.newPackages.map((u) => `${u.package} ${u.targetVersion} for ${u.requiredBy.join(",")}`),
});

function resolveError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isOcipatchError(e, "RESOLVE")) return e.message;
    throw e;
  }
  throw new Error("no RESOLVE error");
}

describe("apk planner", () => {
  it("targets: the smallest fixing version, all installed subpackages of the origin together", () => {
    const p = planApkUpgrades({
      installed: installed(INSTALLED),
      indices: [repo(INDEX)],
      targets: [target("app", "1.0-r1"), target("app", "1.0-r2", "CVE-2025-0002")],
      mode: "targets",
    });
    expect(summary(p)).toEqual({
      updates: ["app 1.0-r0->1.0-r2 target", "app-doc 1.0-r0->1.0-r2 target"],
      added: [],
    });
    expect(p.updates[0]).toMatchObject({
      suite: "http://repo.test/v3.21/main",
      suiteKind: "release",
      component: "main",
      filename: "x86_64/app-1.0-r2.apk",
      url: "http://repo.test/v3.21/main/x86_64/app-1.0-r2.apk",
      size: 100,
      sha256: "",
      sourceName: "app",
      vulnerabilityIds: ["CVE-2025-0001", "CVE-2025-0002"],
    });
    expect(p.updates[0]?.checksum).toMatch(/^Q1/);
    expect(p.downloadSize).toBe(200);
  });

  it("all: every origin to the newest version all its subpackages have", () => {
    const p = planApkUpgrades({
      installed: installed(INSTALLED),
      indices: [repo(INDEX)],
      targets: [],
      mode: "all",
    });
    expect(summary(p).updates).toEqual(["app 1.0-r0->1.0-r2 target", "app-doc 1.0-r0->1.0-r2 target"]);
  });

  it("a versioned so: dependency moves the installed provider: smallest for targets, newest for all", () => {
    const index = [
      ...INDEX,
      "app 1.0-r4 o:app D:so:libc.musl-x86_64.so.1_so:libfoo.so.1>=1.1",
      "app-doc 1.0-r4 o:app",
      "lib 1.1-r0 o:lib p:so:libfoo.so.1=1.1",
      "lib 1.2-r0 o:lib p:so:libfoo.so.1=1.2",
    ];
    const t = planApkUpgrades({
      installed: installed(INSTALLED),
      indices: [repo(index)],
      targets: [target("app", "1.0-r4")],
      mode: "targets",
    });
    expect(summary(t).updates).toEqual([
      "app 1.0-r0->1.0-r4 target",
      "app-doc 1.0-r0->1.0-r4 target",
      "lib 1.0-r0->1.1-r0 dependency",
    ]);
    expect(t.updates[2]?.requiredBy).toEqual(["app"]);
    const a = planApkUpgrades({
      installed: installed(INSTALLED),
      indices: [repo(index)],
      targets: [],
      mode: "all",
    });
    expect(summary(a).updates).toContain("lib 1.0-r0->1.2-r0 target");
  });

  it("a missing cmd: dependency adds its provider (provider priority first)", () => {
    const index = [
      ...INDEX,
      "app 1.0-r4 o:app D:cmd:helper",
      "app-doc 1.0-r4 o:app",
      "helper-a 2.0-r0 o:helper p:cmd:helper=2.0 k:10",
      "helper-b 1.0-r0 o:helper-b p:cmd:helper=1.0 k:100",
    ];
    const p = planApkUpgrades({
      installed: installed(INSTALLED),
      indices: [repo(index)],
      targets: [target("app", "1.0-r4")],
      mode: "targets",
    });
    expect(summary(p).added).toEqual(["helper-b 1.0-r0 for app"]);
  });

  it("no fixing version: a one-line RESOLVE error, or with ignoreErrors the origin unresolved and the rest planned", () => {
    const input = {
      installed: installed(INSTALLED),
      indices: [repo([...INDEX, "lib 1.1-r0 o:lib p:so:libfoo.so.1=1.1"])],
      targets: [target("app", "9.9-r0"), target("lib", "1.1-r0")],
      mode: "targets" as const,
    };
    expect(resolveError(() => planApkUpgrades(input))).toBe(
      "cannot plan app: no version >= 9.9-r0 of app in the repositories for all of its installed subpackages (newest: 1.0-r3)",
    );
    const p = planApkUpgrades({ ...input, ignoreErrors: true });
    expect(summary(p).updates).toEqual(["lib 1.0-r0->1.1-r0 target"]);
    expect(
      p.unresolved.map((u) => `${u.package} ${u.installedVersion} ${u.vulnerabilityIds.join(",")}`),
    ).toEqual(["app 1.0-r0 CVE-2025-0001", "app-doc 1.0-r0 CVE-2025-0001"]);
  });

  it("a package pinned in world is held, not moved", () => {
    const p = planApkUpgrades({
      installed: installed(INSTALLED, ["app"]),
      indices: [repo(INDEX)],
      targets: [target("app", "1.0-r1")],
      mode: "targets",
    });
    expect(p.updates).toEqual([]);
    expect(p.held.map((h) => `${h.package} ${h.candidateVersion}`)).toEqual(["app 1.0-r1", "app-doc 1.0-r1"]);
  });

  it("version constraints in world (apk-world(5)) limit the candidates: the newest they allow, else held", () => {
    const plan = (world: string, targets: UpgradeTarget[] = [], mode: "all" | "targets" = "all") =>
      planApkUpgrades({
        installed: installed(INSTALLED),
        indices: [
          repo([...INDEX, "lib 1.1-r0 o:lib p:so:libfoo.so.1=1.1", "lib 1.2-r0 o:lib p:so:libfoo.so.1=1.2"]),
        ],
        targets,
        mode,
        world: parseApkWorld(world),
      });
    // < keeps lib below 1.2, ~ keeps it at 1.0.x; app <= 1.0-r1 is the newest allowed for its origin
    expect(summary(plan("lib<1.2 app<=1.0-r1")).updates).toEqual([
      "app 1.0-r0->1.0-r1 target",
      "app-doc 1.0-r0->1.0-r1 target",
      "lib 1.0-r0->1.1-r0 target",
    ]);
    const fuzzy = plan("lib~1.0 app>1.0-r1");
    expect(summary(fuzzy).updates).toEqual(["app 1.0-r0->1.0-r2 target", "app-doc 1.0-r0->1.0-r2 target"]);
    expect(fuzzy.held.map((h) => `${h.package} ${h.installedVersion} ${h.candidateVersion}`)).toEqual([
      "lib 1.0-r0 1.2-r0",
    ]);
    expect(fuzzy.warnings).toEqual([
      "lib: 1.2-r0 is not allowed by lib~1.0 in /etc/apk/world: held at 1.0-r0",
    ]);
    // a fix that world does not allow: held, with the vulnerability
    const fix = plan("lib>=1.0 lib<1.1", [target("lib", "1.1-r0")], "targets");
    expect(fix.updates).toEqual([]);
    expect(fix.held.map((h) => `${h.package} ${h.candidateVersion} ${h.vulnerabilityIds.join(",")}`)).toEqual(
      ["lib 1.1-r0 CVE-2025-0001"],
    );
    // a dependency that needs a version world does not allow: a RESOLVE error naming the atom
    expect(
      resolveError(() =>
        planApkUpgrades({
          installed: installed(INSTALLED),
          indices: [
            repo([
              ...INDEX,
              "app 1.0-r4 o:app D:so:libfoo.so.1>=1.1",
              "app-doc 1.0-r4 o:app",
              "lib 1.1-r0 o:lib p:so:libfoo.so.1=1.1",
            ]),
          ],
          targets: [target("app", "1.0-r4")],
          mode: "targets",
          world: parseApkWorld("lib<1.1"),
        }),
      ),
    ).toBe("cannot plan app: needs so:libfoo.so.1>=1.1, but lib is limited by lib<1.1 in /etc/apk/world");
    // !name: a package world forbids is not added
    expect(
      resolveError(() =>
        planApkUpgrades({
          installed: installed(INSTALLED),
          indices: [
            repo([
              ...INDEX,
              "app 1.0-r4 o:app D:cmd:helper",
              "app-doc 1.0-r4 o:app",
              "helper 1.0-r0 o:helper p:cmd:helper=1",
            ]),
          ],
          targets: [target("app", "1.0-r4")],
          mode: "targets",
          world: parseApkWorld("!helper"),
        }),
      ),
    ).toBe("cannot plan app: needs cmd:helper, but helper is forbidden by !helper in /etc/apk/world");
  });

  it("the image's /etc/apk/world: `zlib<1.3.2` keeps zlib below 1.3.2", async () => {
    const rec = (i: number, name: string, v: string) =>
      `C:Q1${String(i).padStart(27, "A")}=\nP:${name}\nV:${v}\nA:x86_64\nS:100\no:${name}\n`;
    const entries: EntrySpec[] = [
      { name: "lib/apk/db/installed", content: `${rec(1, "zlib", "1.3.1-r2")}\n` },
      { name: "etc/apk/world", content: "zlib<1.3.2\n" },
    ];
    const fs = new LayeredFs([await MemoryLayer.of(entries)], "image");
    const p = planApkUpgrades({
      installed: (await apkBackend.readInventory(fs))?.packages ?? [],
      indices: [{ ...repo([]), entries: parseApkIndexText(`${rec(2, "zlib", "1.3.2-r1")}\n`, "APKINDEX") }],
      targets: [],
      mode: "all",
      world: await readApkWorld(fs),
    });
    expect(p.updates).toEqual([]);
    expect(p.held.map((h) => `${h.package} ${h.candidateVersion}`)).toEqual(["zlib 1.3.2-r1"]);
  });

  it("a conflict (!name) and a broken dependency of a package that stays are errors", () => {
    const conflict = [...INDEX, "app 1.0-r4 o:app D:!lib", "app-doc 1.0-r4 o:app"];
    expect(
      resolveError(() =>
        planApkUpgrades({
          installed: installed(INSTALLED),
          indices: [repo(conflict)],
          targets: [target("app", "1.0-r4")],
          mode: "targets",
        }),
      ),
    ).toBe("cannot plan app: 1.0-r4 conflicts with lib 1.0-r0 (!lib)");
    const pinnedUser = [...INSTALLED, "tool 1.0-r0 o:tool D:lib=1.0-r0"];
    expect(
      resolveError(() =>
        planApkUpgrades({
          installed: installed(pinnedUser),
          indices: [repo([...INDEX, "lib 1.1-r0 o:lib p:so:libfoo.so.1=1.1"])],
          targets: [target("lib", "1.1-r0")],
          mode: "targets",
        }),
      ),
    ).toBe("cannot plan tool: tool 1.0-r0 needs lib=1.0-r0, which the planned versions no longer satisfy");
  });

  it("version constraints: = < > <= >= and fuzzy ~", () => {
    expect(apkVersionSatisfies("1.2.3-r1", ">=", "1.2.3")).toBe(true);
    expect(apkVersionSatisfies("1.2.3-r1", "<", "1.2.3-r1")).toBe(false);
    expect(apkVersionSatisfies("1.2.3-r1", "~", "1.2")).toBe(true);
    expect(apkVersionSatisfies("1.20-r0", "~", "1.2")).toBe(false);
    expect(apkVersionSatisfies("1.2.3-r1", "=", "1.2.3-r1")).toBe(true);
    expect(apkVersionSatisfies("2.0", undefined, undefined)).toBe(true);
  });
});
