/**
 * The oracles work on real images: dpkgList agrees with the image's own dpkg, withChroot leaves no
 * trace, dpkgChecks passes on fresh images and fails on a broken database, and apt's own upgrade
 * decisions come back (and are real: applying them gives exactly those versions).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInChroot, withChroot } from "../harness/chroot.js";
import { run } from "../harness/exec.js";
import { makeTempDir, mountsUnder, safeRemove } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import {
  aptInstallUpgrades,
  aptUpgradeOracle,
  assertDpkgHealthy,
  DPKG_FORMAT,
  dpkgChecks,
  dpkgList,
  securityUpgrades,
  unpackImage,
} from "../harness/oracle.js";

const BUILD_TIMEOUT = 30 * 60_000;

async function dpkgGreater(a: string, b: string): Promise<boolean> {
  const r = await run("dpkg", ["--compare-versions", a, "gt", b], { okCodes: [0, 1] });
  return r.code === 0;
}

describe("oracles on debian-bookworm", () => {
  let work: string;
  let rootfs: string;
  beforeAll(async () => {
    const image = await ensureImage("debian-bookworm");
    work = makeTempDir("oracle-bookworm");
    rootfs = (await unpackImage(image, join(work, "bundle"))).rootfs;
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  it("dpkgList (host dpkg-query --admindir) agrees with the image's own dpkg-query", async () => {
    const mine = await dpkgList(rootfs);
    const theirs = (await runInChroot(rootfs, ["dpkg-query", "-W", DPKG_FORMAT.list])).stdout;
    const expected = new Map(
      theirs
        .split("\n")
        .filter((l) => l.startsWith("ii"))
        .map((l) => l.split("\t").slice(1, 3) as [string, string]),
    );
    expect(mine.size).toBeGreaterThan(50);
    expect(Object.fromEntries(mine)).toEqual(Object.fromEntries(expected));
  });

  it("withChroot mounts /proc and a private /dev, blocks services, and undoes everything even on error", async () => {
    const etcMtime = statSync(join(rootfs, "etc")).mtimeMs;
    const hadResolv = existsSync(join(rootfs, "etc/resolv.conf"));
    await expect(
      withChroot(rootfs, async (c) => {
        expect(mountsUnder(rootfs).sort()).toEqual([join(rootfs, "dev"), join(rootfs, "proc")]);
        const policy = await c.run(["/usr/sbin/policy-rc.d"], { okCodes: [101] });
        expect(policy.code).toBe(101);
        expect((await c.run(["cat", "/proc/self/comm"])).stdout.trim()).toBe("cat");
        expect((await c.run(["sh", "-c", "echo ok > /dev/null && ls /dev"])).stdout.split("\n")).toContain(
          "urandom",
        );
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(mountsUnder(rootfs)).toEqual([]);
    expect(existsSync(join(rootfs, "usr/sbin/policy-rc.d"))).toBe(false);
    expect(existsSync(join(rootfs, "etc/resolv.conf"))).toBe(hadResolv);
    expect(statSync(join(rootfs, "etc")).mtimeMs).toBe(etcMtime);
    expect(readdirSync(join(rootfs, "dev"))).toEqual([]);
  });

  it("dpkgChecks passes on the fresh image (chroot, apt-get check with the image's own sources) and leaves no apt lists", async () => {
    const before = readdirSync(join(rootfs, "var/lib/apt/lists")).sort();
    const r = await dpkgChecks(rootfs);
    expect(r.mode).toBe("chroot");
    expect(r.audit).toBe("");
    expect(r.badStates).toEqual([]);
    expect(r.apt?.ok, r.apt?.output).toBe(true);
    expect(r.ok).toBe(true);
    assertDpkgHealthy(r);
    // every file dpkg installed matches its md5sum; the slim path-excludes explain all "missing" ones
    expect(r.verify).toEqual([]);
    expect(r.verifyExcluded).toBeGreaterThan(0);
    expect(readdirSync(join(rootfs, "var/lib/apt/lists")).sort()).toEqual(before);
    // the host-tools variant (used for foreign architectures) agrees
    const host = await dpkgChecks(rootfs, { mode: "host" });
    expect(host.ok).toBe(true);
    expect(host.badStates).toEqual([]);
  }, 300_000);

  it("dpkgChecks fails on a half-configured package and a modified file", async () => {
    const broken = join(work, "broken");
    await run("cp", ["-a", rootfs, broken]);
    const statusFile = join(broken, "var/lib/dpkg/status");
    const status = readFileSync(statusFile, "utf8");
    const patched = status
      .split("\n\n")
      .map((p) =>
        p.startsWith("Package: gzip\n")
          ? p.replace(/^Status: install ok installed$/m, "Status: install ok half-configured")
          : p,
      )
      .join("\n\n");
    expect(patched).not.toBe(status);
    writeFileSync(statusFile, patched);
    writeFileSync(join(broken, "usr/bin/gzip"), "#!/bin/sh\n");
    const r = await dpkgChecks(broken, { apt: false });
    expect(r.ok).toBe(false);
    expect(r.badStates.some((l) => /\bgzip$/.test(l))).toBe(true);
    expect(r.audit).toMatch(/gzip/);
    expect(r.verify.some((l) => l.endsWith(" /usr/bin/gzip") || l.endsWith(" /bin/gzip"))).toBe(true);
    expect(() => assertDpkgHealthy(r, "broken copy")).toThrow(/half|gzip/);
    await safeRemove(broken);
  }, 300_000);
});

describe("apt upgrade oracle on nginx-bullseye", () => {
  let image: TestImage;
  let work: string;
  let rootfs: string;
  beforeAll(async () => {
    image = await ensureImage("nginx-bullseye");
    work = makeTempDir("oracle-nginx");
    rootfs = (await unpackImage(image, join(work, "bundle"))).rootfs;
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  let all: Awaited<ReturnType<typeof aptUpgradeOracle>>;

  it("mode all: apt offers real upgrades from bullseye-security, from the image's own versions", async () => {
    all = await aptUpgradeOracle(rootfs, { mode: "all" });
    expect(all.command).toContain("dist-upgrade");
    const sec = securityUpgrades(all);
    expect(sec.length).toBeGreaterThan(0);
    expect(sec.every((d) => d.suites.includes("bullseye-security"))).toBe(true);
    for (const d of all.upgrades) {
      const bare = d.name.split(":")[0]!;
      expect(d.oldVersion).toBe(image.packagesBefore[d.name] ?? image.packagesBefore[`${bare}:${d.arch}`]);
      expect(
        await dpkgGreater(d.newVersion, d.oldVersion!),
        `${d.name} ${d.oldVersion} -> ${d.newVersion}`,
      ).toBe(true);
      expect(d.suites.length, d.name).toBeGreaterThan(0);
    }
    expect(all.upgrades.map((d) => d.name)).toContain("openssl");
    // the oracle worked on a copy
    expect(Object.fromEntries(await dpkgList(rootfs))).toEqual(image.packagesBefore);
    expect(existsSync(join(rootfs, "usr/sbin/policy-rc.d"))).toBe(false);
    expect(mountsUnder(rootfs)).toEqual([]);
  }, 300_000);

  it("mode packages: --only-upgrade of one package is a consistent subset of dist-upgrade", async () => {
    const one = await aptUpgradeOracle(rootfs, { mode: { packages: ["curl"] } });
    expect(one.command).toEqual(expect.arrayContaining(["install", "--only-upgrade", "curl"]));
    const curl = one.upgrades.find((d) => d.name === "curl");
    expect(curl?.newVersion).toBe(all.upgrades.find((d) => d.name === "curl")?.newVersion);
    const allNames = new Set(all.upgrades.map((d) => d.name));
    for (const d of one.upgrades) expect(allNames).toContain(d.name);
    expect(one.upgrades.length).toBeLessThan(all.upgrades.length);
    expect(one.installs).toEqual([]);
  }, 300_000);

  it("the real apt install gives exactly the predicted versions and a healthy dpkg database", async () => {
    const target = join(work, "patched");
    await run("cp", ["-a", rootfs, target]);
    const res = await aptInstallUpgrades(target, { packages: "security", inPlace: true });
    const predicted = securityUpgrades(all);
    expect([...res.targets].sort()).toEqual(predicted.map((d) => d.name).sort());
    for (const d of predicted)
      expect(res.after.get(d.name) ?? res.after.get(`${d.name}:${d.arch}`), d.name).toBe(d.newVersion);
    for (const [name, change] of res.changed)
      expect(change.from, `${name} should not be newly installed`).toBeDefined();
    expect(Object.fromEntries(await dpkgList(target))).toEqual(Object.fromEntries(res.after));
    const checks = await dpkgChecks(target);
    assertDpkgHealthy(checks, "patched nginx-bullseye");
    expect(checks.verify).toEqual([]);
    expect(readdirSync(join(target, "var/lib/apt/lists")).filter((f) => f.endsWith("_Packages"))).toEqual([]);
    expect(lstatSync(join(target, "var/cache/apt/archives")).isDirectory()).toBe(true);
    expect(readdirSync(join(target, "var/cache/apt/archives")).filter((f) => f.endsWith(".deb"))).toEqual([]);
  }, 600_000);
});

describe("apt upgrade oracle on ubuntu-jammy", () => {
  let work: string;
  let rootfs: string;
  beforeAll(async () => {
    const image = await ensureImage("ubuntu-jammy");
    work = makeTempDir("oracle-jammy");
    rootfs = (await unpackImage(image, join(work, "bundle"))).rootfs;
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  it("apt in the image (Ubuntu keyring, the image's sources) offers upgrades from jammy-security/-updates", async () => {
    const r = await aptUpgradeOracle(rootfs, { mode: "all" });
    expect(r.upgrades.length).toBeGreaterThan(0);
    const suites = new Set(r.upgrades.flatMap((d) => d.suites));
    expect([...suites].some((s) => s === "jammy-security" || s === "jammy-updates")).toBe(true);
    expect(securityUpgrades(r).length).toBeGreaterThan(0);
  }, 600_000);
});
