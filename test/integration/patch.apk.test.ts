/**
 * `ocipatch patch` of Alpine-like images (apk backend), end to end over loopback HTTP: the
 * harness's real signed repositories (release → fixes state), the real Alpine 3.21 secdb, the
 * patched image unpacked with umoci and RUN by a real dockerd. The expected package set is an
 * independent computation of `apk upgrade` from the fixes APKINDEX (read with GNU tar), not the
 * planner's.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apkRecord } from "../../src/backends/apk/record.js";
import { readInventory } from "../../src/inventory/index.js";
import type { Inventory } from "../../src/inventory/types.js";
import { inventoryAfterLayer } from "../../src/patch/after-inventory.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { openImage } from "../../src/transport/index.js";
import { openDatabaseForScan, updateDatabase } from "../../src/vulndb/index.js";
import {
  type ApkFixtures,
  buildApk,
  buildApkFixtures,
  buildApkIndex,
  installedDb,
  installedRecord,
  makeTestKey,
  writeApkRepositories,
} from "../harness/apk/build.js";
import { buildAlpineImage } from "../harness/apk/image.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { startDockerd, type TestEngine } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { runCli, tempDir, VULNDATA } from "./vulndb.fixtures.js";

const SECDB = join(VULNDATA, "alpine/vuln-list-v3.21-main");

let tmp: string;
let dbDir: string;
let layout: string;
let repoDir: string;
let fx: ApkFixtures;
let server: StaticServer;
const env = (cache = "cache") => ({ OCIPATCH_CACHE_DIR: join(tmp, cache) });

beforeAll(async () => {
  tmp = tempDir("ocipatch-patch-apk-");
  dbDir = join(tmp, "db");
  const r = await updateDatabase({ dbDir, locations: { alpine: [SECDB] } });
  expect(r.failures).toEqual([]);
  fx = buildApkFixtures();
  repoDir = join(tmp, "repo");
  await writeApkRepositories(repoDir, fx);
  server = await serveDirectory(repoDir);
  layout = join(tmp, "layout");
  const base = { key: fx.key, osId: "alpine", versionId: "3.21.3", packages: fx.release.packages };
  await buildAlpineImage(layout, "alpine", { ...base, repositories: [`${server.url}/fixes/main`] });
  await buildAlpineImage(layout, "distroless", { ...base, distroless: true });
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ── independent helpers (no ocipatch code) ──────────────────────────────────────────────

/** `X:value` records of an APKINDEX or installed db text. */
function records(text: string): Array<Record<string, string>> {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim() !== "")
    .map((b) => {
      const r: Record<string, string> = {};
      for (const l of b.split("\n")) if (l[1] === ":") r[l[0] as string] ??= l.slice(2);
      return r;
    });
}

/** Version order for the fixture versions (digits compared as numbers, `-rN` last). */
function vcmp(a: string, b: string): number {
  const ta = a.split(/[.\-r]+/).map(Number);
  const tb = b.split(/[.\-r]+/).map(Number);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const d = (ta[i] ?? -1) - (tb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}

/** What `apk upgrade` installs: every installed name at the index's newest version, dependencies closed. */
async function apkUpgradeOracle(
  installed: Array<Record<string, string>>,
  indexFile: string,
): Promise<string[]> {
  const text = (await run("tar", ["-xzOf", indexFile, "APKINDEX"])).stdout;
  const index = records(text);
  const newest = (name: string) =>
    index
      .filter((r) => r.P === name)
      .sort((a, b) => vcmp(a.V as string, b.V as string))
      .at(-1);
  const final = new Map<string, Record<string, string>>();
  for (const p of installed) final.set(p.P as string, newest(p.P as string) ?? p);
  let changed = true;
  while (changed) {
    changed = false;
    for (const p of [...final.values()]) {
      for (const dep of (p.D ?? "").split(" ").filter(Boolean)) {
        const [name, ver] = dep.split("=");
        const ok = [...final.values()].some(
          (q) =>
            (q.P === name && (ver === undefined || q.V === ver)) ||
            (q.p ?? "").split(" ").some((x) => x === name || x.startsWith(`${name}=`)),
        );
        if (ok) continue;
        const provider = index.find(
          (q) => q.P === name || (q.p ?? "").split(" ").some((x) => x.split("=")[0] === name),
        );
        expect(provider, `provider of ${dep}`).toBeDefined();
        final.set(provider?.P as string, provider as Record<string, string>);
        changed = true;
      }
    }
  }
  return [...final.values()].map((r) => `${r.P}=${r.V}`).sort();
}

async function unpack(ref: string, name: string): Promise<string> {
  const bundle = join(tmp, `bundle-${name}`);
  await run("umoci", ["unpack", "--rootless", "--image", ref, bundle]);
  return join(bundle, "rootfs");
}

async function fixable(ref: string): Promise<number> {
  const r = await runCli(["scan", "--image", ref, "--format", "json", "--offline", "--db-dir", dbDir], env());
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { findings: Array<{ fixedVersion: string | null }>; packages: number };
  expect(doc.packages).toBeGreaterThan(0);
  return doc.findings.filter((f) => f.fixedVersion !== null).length;
}

async function patch(tag: string, dest: string, extra: string[] = [], cache = "cache") {
  return runCli(
    [
      "patch",
      "-i",
      `oci:${layout}:${tag}`,
      "--dest",
      dest,
      "--skip-db-update",
      "--db-dir",
      dbDir,
      "--format",
      "json",
      ...extra,
    ],
    env(cache),
  );
}

describe("ocipatch patch of Alpine images (apk backend)", { timeout: 600_000 }, () => {
  let patchedRoot: string;
  const patchedLayout = () => join(tmp, "patched");

  it("patches the alpine-like image from its own repositories: 0 fixable after, the apk upgrade package set", async () => {
    expect(await fixable(`oci:${layout}:alpine`)).toBeGreaterThan(0);
    const r = await patch("alpine", `oci:${patchedLayout()}:patched`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    expect(await fixable(`oci:${patchedLayout()}:patched`)).toBe(0);

    patchedRoot = await unpack(`${patchedLayout()}:patched`, "patched");
    const db = readFileSync(join(patchedRoot, "lib/apk/db/installed"), "utf8");
    const got = records(db)
      .map((x) => `${x.P}=${x.V}`)
      .sort();
    const releaseDb = records(
      readFileSync(join(await unpack(`${layout}:alpine`, "orig"), "lib/apk/db/installed"), "utf8"),
    );
    expect(got).toEqual(
      await apkUpgradeOracle(releaseDb, join(repoDir, "fixes/main/x86_64/APKINDEX.tar.gz")),
    );
    // every record is what apk writes after installing that package
    for (const p of fx.fixes.packages) expect(db).toContain(installedRecord(p));
    expect(db.endsWith("\n\n")).toBe(true);
  });

  it("the re-scan's computed inventory equals a real read of the written image", async () => {
    const { db } = await openDatabaseForScan({ dbDir, offline: true });
    const dest = `oci:${join(tmp, "rescan")}:patched`;
    const workDir = join(tmp, "rescan-work");
    mkdirSync(workDir, { recursive: true });
    try {
      const result = await patchImage({
        source: `oci:${layout}:alpine`,
        destination: dest,
        mode: "targets",
        db,
        repositories: { cacheDir: join(tmp, "rescan-cache") },
        packageCacheDir: join(tmp, "rescan-cache", "packages"),
        workDir,
      });
      expect(result.status).toBe("patched");
      const p = result.platforms[0]!;
      expect(p.built?.installed?.length).toBeGreaterThan(0);
      // the shortcut is taken (nothing else the inventory derives from is touched)
      const before = await readInventory(await openImage(`oci:${layout}:alpine`));
      expect(
        inventoryAfterLayer(before, { installed: p.built!.installed, paths: p.built!.paths }),
      ).toBeDefined();
      const read = await readInventory(await openImage(dest));
      const facts = (inv: Inventory) =>
        inv.packages
          .map((x) => ({ ...x, native: apkRecord(x) }))
          .sort((a, b) => `${a.name}:${a.architecture}`.localeCompare(`${b.name}:${b.architecture}`));
      expect(facts(p.afterInventory!)).toEqual(facts(read));
      expect(p.afterInventory!.os).toEqual(read.os);
      expect(p.afterInventory!.distroless).toBe(read.distroless);
    } finally {
      db.close();
    }
  });

  it("--all gives the same apk upgrade package set (every package to the newest version)", async () => {
    const dest = join(tmp, "patched-all");
    const r = await patch("alpine", `oci:${dest}:all`, ["--all"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      platforms: Array<{
        after?: { fixable: number };
        packages: Array<{ name: string; from: string | null; to: string }>;
        warnings: string[];
      }>;
    };
    const p0 = doc.platforms[0];
    expect(p0?.after?.fixable).toBe(0);
    expect(p0?.warnings).toEqual([]);
    const from = new Map(fx.release.packages.map((p) => [p.spec.name, p.spec.version]));
    expect(p0?.packages.map((p) => `${p.name} ${p.from}->${p.to}`).sort()).toEqual(
      fx.fixes.packages.map((p) => `${p.spec.name} ${from.get(p.spec.name)}->${p.spec.version}`).sort(),
    );
    const root = await unpack(`${dest}:all`, "all");
    const got = records(readFileSync(join(root, "lib/apk/db/installed"), "utf8"))
      .map((x) => `${x.P}=${x.V}`)
      .sort();
    const releaseDb = records(installedDb(fx.release.packages));
    expect(got).toEqual(
      await apkUpgradeOracle(releaseDb, join(repoDir, "fixes/main/x86_64/APKINDEX.tar.gz")),
    );
  });

  it("the patched image has the new files, not the dropped one, and an untouched world", async () => {
    expect(readFileSync(join(patchedRoot, "etc/busybox-version"), "utf8")).toBe("1.37.0-r14\n");
    expect(existsSync(join(patchedRoot, "usr/lib/engines-3/padlock.so"))).toBe(false);
    expect(existsSync(join(patchedRoot, "usr/lib/engines-3"))).toBe(false); // emptied: removed as apk does
    expect(existsSync(join(patchedRoot, "usr/lib/libcrypto.so.3"))).toBe(true);
    expect(existsSync(join(patchedRoot, "usr/lib/libz.so.1.3.1"))).toBe(false);
    expect(readFileSync(join(patchedRoot, "usr/lib/libz.so.1.3.2"), "utf8")).toBe("zlib 1.3.2-r1 stand-in\n");
    expect(readFileSync(join(patchedRoot, "etc/apk/world"), "utf8")).toBe(
      `${fx.release.packages.map((p) => p.spec.name).join("\n")}\n`,
    );
  });

  it("the patched busybox runs (docker run --network none on a real dockerd)", async () => {
    let engine: TestEngine | undefined;
    try {
      engine = await startDockerd();
      const archive = join(tmp, "patched-docker.tar");
      const ref = `local/apk-patched-${process.pid}:1`;
      await run("skopeo", [
        "copy",
        "-q",
        `oci:${patchedLayout()}:patched`,
        `docker-archive:${archive}:${ref}`,
      ]);
      await engine.docker(["load", "-q", "-i", archive]);
      const out = await engine.docker([
        "run",
        "--rm",
        "--network",
        "none",
        ref,
        "/bin/sh",
        "-c",
        "cat /etc/busybox-version; test -e /usr/lib/engines-3/padlock.so || echo no-padlock; busybox true && echo ran",
      ]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toBe("1.37.0-r14\nno-padlock\nran\n");
    } finally {
      await engine?.stop();
    }
  });

  // apk-world(5): a constraint other than `=` limits what apk upgrade may install; the planner
  // holds an origin it allows no newer version of (unit tests: planner.test.ts)
  it("a version constraint in /etc/apk/world keeps its package from being upgraded past it", async () => {
    const world = fx.release.packages.map((p) => (p.spec.name === "zlib" ? "zlib<1.3.2" : p.spec.name));
    await buildAlpineImage(layout, "alpine-world", {
      key: fx.key,
      osId: "alpine",
      versionId: "3.21.3",
      packages: fx.release.packages,
      repositories: [`${server.url}/fixes/main`],
      world,
    });
    const dest = join(tmp, "patched-world");
    const r = await patch("alpine-world", `oci:${dest}:p`);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      platforms: Array<{
        after?: { fixable: number };
        packages: Array<{ name: string; from: string | null; to: string }>;
        warnings: string[];
      }>;
    };
    const p0 = doc.platforms[0];
    expect(p0?.warnings).toContain(
      "zlib: 1.3.2-r1 is not allowed by zlib<1.3.2 in /etc/apk/world: held at 1.3.1-r2",
    );
    expect(p0?.packages.map((p) => p.name)).not.toContain("zlib");
    expect(p0?.packages.length).toBeGreaterThan(0);
    // zlib's CVEs are still there (the secdb fixes them in 1.3.2-r0 and later)
    expect(p0?.after?.fixable).toBeGreaterThan(0);

    const root = await unpack(`${dest}:p`, "world");
    const got = records(readFileSync(join(root, "lib/apk/db/installed"), "utf8"))
      .map((x) => `${x.P}=${x.V}`)
      .sort();
    const release = new Map(fx.release.packages.map((p) => [p.spec.name, p.spec.version]));
    expect(got).toEqual(
      fx.fixes.packages
        .map((p) => `${p.spec.name}=${p.spec.name === "zlib" ? release.get("zlib") : p.spec.version}`)
        .sort(),
    );
    expect(readFileSync(join(root, "usr/lib/libz.so.1.3.1"), "utf8")).toBe("zlib 1.3.1-r2 stand-in\n");
    expect(existsSync(join(root, "usr/lib/libz.so.1.3.2"))).toBe(false);
    expect(readFileSync(join(root, "etc/busybox-version"), "utf8")).toBe("1.37.0-r14\n");
    expect(readFileSync(join(root, "etc/apk/world"), "utf8")).toBe(`${world.join("\n")}\n`);
  });

  it("patches a distroless Alpine image with --repository and --keyring", async () => {
    const dest = join(tmp, "patched-distroless");
    const r = await patch("distroless", `oci:${dest}:p`, [
      "--repository",
      `${server.url}/fixes/main`,
      "--keyring",
      join(repoDir, "keys", fx.key.name),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await fixable(`oci:${dest}:p`)).toBe(0);
    const root = await unpack(`${dest}:p`, "distroless");
    expect(existsSync(join(root, "etc/apk"))).toBe(false);
    expect(existsSync(join(root, "usr/lib/engines-3/padlock.so"))).toBe(false);
  });

  it("a distroless image without --repository is refused in one line, nothing written", async () => {
    const dest = join(tmp, "refused-distroless");
    const r = await patch("distroless", `oci:${dest}:p`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /\[error\] [^\n]*no apk repository[^\n]*give a repository URL \(--repository\)\n$/,
    );
    expect(existsSync(dest)).toBe(false);
  });
});

describe("ocipatch patch of Alpine images: bad repositories are refused, nothing written", {
  timeout: 600_000,
}, () => {
  /** A repository served from `<repoDir>/<name>/main/x86_64/` with the given index and packages. */
  function variant(name: string, index: Buffer | undefined, packages = fx.fixes.packages): string {
    const dir = join(repoDir, name, "main", "x86_64");
    mkdirSync(dir, { recursive: true });
    if (index) writeFileSync(join(dir, "APKINDEX.tar.gz"), index);
    for (const p of packages) writeFileSync(join(dir, p.fileName), p.bytes);
    return `${server.url}/${name}/main`;
  }

  async function refused(url: string, message: RegExp) {
    const id = Math.random().toString(16).slice(2);
    const dest = join(tmp, `refused-${id}`);
    // a cache of its own: a verified package cached by an earlier run would be reused
    const r = await patch(
      "distroless",
      `oci:${dest}:p`,
      ["--repository", url, "--keyring", join(repoDir, "keys", fx.key.name)],
      `cache-${id}`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/\[error\] [^\n]+\n$/);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("[error]"))).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(existsSync(dest)).toBe(false);
  }

  it("an unsigned index", async () => {
    const signed = fx.fixes.index;
    // the body member alone: drop the signature member (the first gzip member)
    const second = signed.indexOf(Buffer.from([0x1f, 0x8b, 0x08]), 10);
    await refused(variant("unsigned", signed.subarray(second)), /not signed/);
  });

  it("an index signed by a different key under the trusted key's name", async () => {
    const impostor = makeTestKey(fx.key.name);
    await refused(
      variant("wrongsig", buildApkIndex(fx.fixes.packages, impostor, "RSA256", "wrong")),
      /signature RSA256\.[^ ]+ does not verify/,
    );
  });

  it("an index signed by an unknown key", async () => {
    const other = makeTestKey("someone-else.rsa.pub");
    await refused(
      variant("unknownkey", buildApkIndex(fx.fixes.packages, other, "RSA", "unknown")),
      /signed by unknown key RSA\.someone-else\.rsa\.pub/,
    );
  });

  it("a package whose bytes do not match the index checksum", async () => {
    // the index lists the real zlib; the repository serves another build of it (same name and version)
    const real = fx.fixes.packages.find((p) => p.spec.name === "zlib");
    if (!real) throw new Error("no zlib");
    const other = buildApk(
      { ...real.spec, description: "A compression/decompression LIBRARY" },
      fx.key,
      "RSA256",
    );
    const served = fx.fixes.packages.map((p) => (p === real ? { ...other, fileName: real.fileName } : p));
    await refused(
      variant("tampered", fx.fixes.index, served),
      /zlib 1\.3\.2-r1[^\n]*does not match the index/,
    );
  });

  it("a repository without <arch>/APKINDEX.tar.gz", async () => {
    await refused(variant("noindex", undefined), /has no x86_64\/APKINDEX\.tar\.gz \(HTTP 404\)/);
  });
});
