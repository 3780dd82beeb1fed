/**
 * PLANNER ORACLE: apt itself decides on the same status file and sources; the plan must
 * match it package for package and version for version.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { SourceFile } from "../../src/backends/dpkg/apt/sources.js";
import { compareDebianVersions } from "../../src/backends/dpkg/debian/version.js";
import { planForImage } from "../../src/backends/dpkg/plan/plan-for-image.js";
import type { Inventory } from "../../src/inventory/types.js";
import type { Plan, UpgradeTarget } from "../../src/plan/types.js";
import {
  aptSimulate,
  debianOs,
  ensureDpkgStatus,
  inventoryFromStatus,
  ubuntuOs,
} from "../harness/apt-host-oracle.js";
import {
  DEBIAN_KEYRING,
  ensureUbuntuKeyring,
  hostDebianMirror,
  sharedDir,
  testCacheDir,
  UBUNTU_ARCHIVE,
} from "../harness/apt-support.js";

interface Case {
  readonly name: string;
  readonly distro: "debian" | "ubuntu";
  readonly codename: string;
  readonly versionId: string;
  readonly include: readonly string[];
}
const CASES: readonly Case[] = [
  {
    name: "bullseye-nginx",
    distro: "debian",
    codename: "bullseye",
    versionId: "11",
    include: ["nginx-light", "curl", "openssl", "ca-certificates"],
  },
  {
    name: "bookworm-nginx",
    distro: "debian",
    codename: "bookworm",
    versionId: "12",
    include: ["nginx", "curl", "openssl", "ca-certificates"],
  },
  {
    name: "jammy-curl",
    distro: "ubuntu",
    codename: "jammy",
    versionId: "22.04",
    include: ["apt", "curl", "openssl", "ca-certificates"],
  },
];

type Tracker = Record<
  string,
  Record<string, { releases: Record<string, { status: string; fixed_version?: string }> }>
>;
interface Advisory {
  id: string;
  package: string;
  cves: string[];
  suite: string;
  version: string;
}
/** Real vulnerability data: (source, codename) → fixed version → ids. */
const findings = new Map<string, Array<{ fixed: string; ids: string[] }>>();
let mirror: { debian: string; security: string };

const VULNDATA = join(sharedDir(), "vulndata", "debian");
beforeAll(async () => {
  mirror = await hostDebianMirror();
  const tracker = JSON.parse(await readFile(join(VULNDATA, "tracker-subset.json"), "utf8")) as Tracker;
  for (const [src, cves] of Object.entries(tracker)) {
    for (const [cve, e] of Object.entries(cves)) {
      for (const [codename, r] of Object.entries(e.releases)) {
        if (r.status !== "resolved" || !r.fixed_version || r.fixed_version === "0") continue;
        addFinding(src, codename, r.fixed_version, [cve]);
      }
    }
  }
  // DSAs/DLAs of 2025-2026 (the tracker subset stops earlier): "package version" per advisory
  const advisories = JSON.parse(
    await readFile(join(VULNDATA, "advisories-2025-2026.json"), "utf8"),
  ) as Advisory[];
  for (const a of advisories) {
    const m = /^(\S+) (\S+)$/.exec(a.version.trim());
    if (m) addFinding(m[1]!, a.suite, m[2]!, [a.id, ...a.cves]);
  }
});

function addFinding(src: string, codename: string, fixed: string, ids: string[]): void {
  const k = `${src} ${codename}`;
  const list = findings.get(k) ?? [];
  list.push({ fixed, ids });
  findings.set(k, list);
}

/** A minimal scan: fixed versions above the installed source versions. */
function fixableTargets(inv: Inventory, codename: string, sources?: readonly string[]): UpgradeTarget[] {
  const installed = new Map<string, string>();
  for (const p of inv.packages) installed.set(p.sourceName, p.sourceVersion);
  const out: UpgradeTarget[] = [];
  for (const [src, version] of [...installed].sort()) {
    if (sources && !sources.includes(src)) continue;
    for (const f of findings.get(`${src} ${codename}`) ?? []) {
      if (compareDebianVersions(version, f.fixed) < 0) {
        out.push({ sourceName: src, fixedVersion: f.fixed, vulnerabilityIds: f.ids });
      }
    }
  }
  return out;
}

const planned = (plan: Plan): Map<string, string> =>
  new Map([...plan.updates, ...plan.newPackages].map((u) => [u.package, u.targetVersion] as const));

describe.each(CASES)("$name: the plan equals apt's decision", (c) => {
  let inv: Inventory;
  let imageSources: SourceFile[];
  let imageKeyrings: SourceFile[];
  let aptSources: string[];
  let status: string;
  const cacheDir = join(testCacheDir(), "apt-cache");

  let archives: { main: string; security: string };

  beforeAll(async () => {
    const ubuntu = c.distro === "ubuntu";
    const keyring = ubuntu ? await ensureUbuntuKeyring() : DEBIAN_KEYRING;
    archives = ubuntu
      ? { main: UBUNTU_ARCHIVE, security: UBUNTU_ARCHIVE }
      : { main: mirror.debian, security: mirror.security };
    status = await ensureDpkgStatus(
      c.name,
      c.codename,
      archives.main,
      c.include,
      ubuntu ? keyring : undefined,
    );
    inv = await inventoryFromStatus(status, (ubuntu ? ubuntuOs : debianOs)(c.codename, c.versionId));
    // like the bench images: mmdebstrap's sources list names the release suite only
    imageSources = [{ path: "/etc/apt/sources.list", content: `deb ${archives.main} ${c.codename} main\n` }];
    const imageKeyringPath = ubuntu ? "/usr/share/keyrings/ubuntu-archive-keyring.gpg" : DEBIAN_KEYRING;
    imageKeyrings = [{ path: imageKeyringPath, content: await readFile(keyring) }];
    const sb = `[signed-by=${keyring}]`;
    aptSources = [
      `deb ${sb} ${archives.main} ${c.codename} main`,
      `deb ${sb} ${archives.main} ${c.codename}-updates main`,
      `deb ${sb} ${archives.security} ${c.codename}-security main`,
    ];
  });

  const sourceOf = (t: UpgradeTarget): string =>
    t.sourceName ?? inv.packages.find((p) => p.name === t.package)?.sourceName ?? "";

  /**
   * Real findings for the image; when the vulnerability data has none (an image built from a
   * point release newer than the data), a scanner-style report by binary package: what apt's
   * dist-upgrade would bring, as trivy/grype reports name it (package, fixed version).
   */
  const findingsOrReport = async (): Promise<UpgradeTarget[]> => {
    const data = fixableTargets(inv, c.codename);
    if (data.length > 0) return data;
    const apt = await aptSimulate({
      status,
      sources: aptSources,
      architecture: "amd64",
      args: ["dist-upgrade"],
    });
    return [...apt.installs]
      .filter(([name]) => !apt.newPackages.has(name))
      .map(([name, version]) => ({
        package: name,
        fixedVersion: version,
        vulnerabilityIds: [`apt:${name}`],
      }));
  };

  const plan = (over: Partial<Parameters<typeof planForImage>[0]> = {}) =>
    planForImage({
      inventory: inv,
      architecture: "amd64",
      aptFiles: { sources: imageSources, keyrings: imageKeyrings },
      mode: "all",
      host: null,
      hostKeyrings: null,
      client: { cacheDir },
      ...over,
    });

  it("--all equals apt-get dist-upgrade", async () => {
    const r = await plan();
    const apt = await aptSimulate({
      status,
      sources: aptSources,
      architecture: "amd64",
      args: ["dist-upgrade"],
    });
    expect(apt.removals).toEqual([]);
    expect(apt.installs.size, "the image has security updates to apply").toBeGreaterThan(0);
    expect(planned(r.plan)).toEqual(apt.installs);
    expect(new Set(r.plan.newPackages.map((n) => n.package))).toEqual(apt.newPackages);
    expect(r.plan.unresolved).toEqual([]);
    // derived suites: the image lists only its release
    expect(r.repositories.map((x) => `${x.kind}:${x.suite}:${x.derived}`)).toEqual([
      `security:${c.codename}-security:true`,
      `updates:${c.codename}-updates:true`,
      `release:${c.codename}:false`,
    ]);
    for (const u of r.plan.updates) {
      expect(u.url).toBe(`${u.suiteKind === "security" ? archives.security : archives.main}/${u.filename}`);
      expect(u.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(compareDebianVersions(u.targetVersion, u.installedVersion)).toBeGreaterThan(0);
    }
    expect(r.plan.downloadSize).toBe(
      r.plan.updates.reduce((s, u) => s + u.size, 0) + r.plan.newPackages.reduce((s, u) => s + u.size, 0),
    );
  });

  it("a CVE-driven plan (openssl, curl, glibc when fixable) equals apt-get install --only-upgrade of their binaries", async () => {
    let targets = fixableTargets(inv, c.codename, ["openssl", "curl", "glibc"]);
    if (targets.length === 0) {
      // the data has nothing newer for those: take the first three sources it has fixes for
      const all = await findingsOrReport();
      const first = [...new Set(all.map((t) => sourceOf(t)))].slice(0, 3);
      targets = all.filter((t) => first.includes(sourceOf(t)));
    }
    expect(targets.length, "fixable findings for this image").toBeGreaterThan(0);
    const r = await plan({ mode: "targets", targets });
    const targeted = r.plan.updates.filter((u) => u.reason !== "dependency").map((u) => u.package);
    // every installed binary of the targeted sources is moved (lockstep)
    const expectedBinaries = inv.packages
      .filter((p) => targets.some((t) => sourceOf(t) === p.sourceName))
      .map((p) => p.name)
      .sort();
    expect([...targeted].sort()).toEqual(expectedBinaries);
    const apt = await aptSimulate({
      status,
      sources: aptSources,
      architecture: "amd64",
      args: ["install", "--only-upgrade", ...expectedBinaries],
    });
    expect(apt.removals).toEqual([]);
    expect(planned(r.plan)).toEqual(apt.installs);
    // the fixed CVEs are attributed to the updates of their source
    for (const u of r.plan.updates.filter((x) => x.reason === "target")) {
      const ids = targets.filter((t) => sourceOf(t) === u.sourceName).flatMap((t) => t.vulnerabilityIds);
      expect(u.vulnerabilityIds).toEqual([...new Set(ids)].sort());
    }
    for (const u of r.plan.updates.filter((x) => x.reason !== "dependency")) {
      for (const t of targets.filter((x) => sourceOf(x) === u.sourceName)) {
        const v = t.sourceName ? u.sourceVersion : t.package === u.package ? u.targetVersion : undefined;
        if (v) expect(compareDebianVersions(v, t.fixedVersion!)).toBeGreaterThanOrEqual(0);
      }
    }
  });

  it("a plan for every fixable finding equals apt-get install --only-upgrade of the planned targets", async () => {
    const targets = await findingsOrReport();
    const r = await plan({ mode: "targets", targets, ignoreErrors: true });
    const names = r.plan.updates.filter((u) => u.reason !== "dependency").map((u) => u.package);
    expect(names.length).toBeGreaterThan(0);
    const apt = await aptSimulate({
      status,
      sources: aptSources,
      architecture: "amd64",
      args: ["install", "--only-upgrade", ...names],
    });
    expect(apt.removals).toEqual([]);
    expect(planned(r.plan)).toEqual(apt.installs);
  });
});
