/**
 * `ocipatch patch` of the other apk image shapes (issue 11 §2–3), over the harness's real signed
 * repositories on loopback HTTP: a Wolfi-like image (os-release ID=wolfi, no apk, no /etc/apk)
 * scanned with the `wolfi` feed and patched with --repository; a multi-layer Alpine image whose
 * upper layer deletes a file and upgrades zlib itself; a multi-platform index (x86_64 + aarch64).
 * fleet mode with --repository/--keyring. Results are checked with umoci
 * unpack and GNU tar, not with ocipatch's own readers.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import {
  type ApkFixtures,
  buildApkFixtures,
  installedDb,
  installedRecord,
  writeApkRepositories,
} from "../harness/apk/build.js";
import { appendLayer, buildAlpineImage, putFile, tagIndex } from "../harness/apk/image.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { run } from "../harness/exec.js";
import {
  MEDIA_INDEX,
  type OciIndex,
  readJsonBlob,
  tagDescriptor,
  taggedDescriptor,
} from "../harness/oci-layout.js";
import { runCli, tempDir, VULNDATA } from "./vulndb.fixtures.js";

const SECDB = join(VULNDATA, "alpine/vuln-list-v3.21-main");
const WOLFI_SAMPLE = join(VULNDATA, "alpine/format-samples/vunnel_wolfi_security.json");

let tmp: string;
let layout: string;
let repoDir: string;
let fx: ApkFixtures;
let server: StaticServer;
const env = (cache = "cache") => ({ OCIPATCH_CACHE_DIR: join(tmp, cache) });

/**
 * A Wolfi security feed in the shape of the real one (vunnel_wolfi_security.json: apkurl, archs,
 * reponame "os", urlprefix, packages[].pkg.secfixes — no distroversion) whose entries are the real
 * Alpine 3.21 secfixes of the harness's origins (the harness versions come from that secdb).
 */
function wolfiFeed(path: string, origins: readonly string[]): void {
  const sample = JSON.parse(readFileSync(WOLFI_SAMPLE, "utf8")) as Record<string, unknown>;
  const packages = origins.map((name) => {
    const doc = JSON.parse(readFileSync(join(SECDB, `${name}.json`), "utf8")) as {
      secfixes: Record<string, string[]>;
    };
    return { pkg: { name, secfixes: doc.secfixes } };
  });
  expect(sample["distroversion"]).toBeUndefined();
  writeFileSync(path, JSON.stringify({ ...sample, packages }, null, 2));
}

beforeAll(async () => {
  tmp = tempDir("ocipatch-patch-apk-variants-");
  fx = buildApkFixtures();
  repoDir = join(tmp, "repo");
  await writeApkRepositories(repoDir, fx);
  server = await serveDirectory(repoDir);
  layout = join(tmp, "layout");
}, 300_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ── independent helpers (no ocipatch code) ──────────────────────────────────────────────

/** `P=V` of every record of an installed db text. */
function installedVersions(text: string): string[] {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim() !== "")
    .map((b) => {
      const line = (k: string) =>
        b
          .split("\n")
          .find((l) => l.startsWith(`${k}:`))
          ?.slice(2);
      return `${line("P")}=${line("V")}`;
    })
    .sort();
}

async function unpack(ref: string, name: string): Promise<string> {
  const bundle = join(tmp, `bundle-${name}`);
  await run("umoci", ["unpack", "--rootless", "--image", ref, bundle]);
  return join(bundle, "rootfs");
}

interface ScanDoc {
  findings: Array<{ id: string; package: string; fixedVersion: string | null }>;
  packages: number;
  warnings?: string[];
}

async function scan(ref: string, dbDir: string, extra: string[] = []): Promise<ScanDoc> {
  const r = await runCli(
    ["scan", "--image", ref, "--format", "json", "--offline", "--db-dir", dbDir, ...extra],
    env(),
  );
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as ScanDoc;
  expect(doc.packages).toBeGreaterThan(0);
  return doc;
}

const fixable = (d: ScanDoc) => d.findings.filter((f) => f.fixedVersion !== null).length;

async function patch(image: string, dest: string, dbDir: string, extra: string[] = []) {
  return runCli(
    [
      "patch",
      "-i",
      image,
      "--dest",
      dest,
      "--skip-db-update",
      "--db-dir",
      dbDir,
      "--format",
      "json",
      ...extra,
    ],
    env(),
  );
}

const trust = () => [
  "--repository",
  `${server.url}/fixes/main`,
  "--keyring",
  join(repoDir, "keys", fx.key.name),
];

describe("Wolfi-like image (ID=wolfi, no apk, no /etc/apk): feed `wolfi`, --repository", {
  timeout: 600_000,
}, () => {
  let dbDir: string;

  beforeAll(async () => {
    dbDir = join(tmp, "db-wolfi");
    const feed = join(tmp, "wolfi-security.json");
    wolfiFeed(feed, ["musl", "busybox", "zlib", "openssl"]);
    const r = await updateDatabase({ dbDir, locations: { wolfi: [feed] } });
    expect(r.failures).toEqual([]);
    await buildAlpineImage(layout, "wolfi", {
      key: fx.key,
      osId: "wolfi",
      versionId: "20230201",
      packages: fx.release.packages,
      distroless: true,
    });
  }, 300_000);

  it("scans with the wolfi feed (not Alpine's), patches with --repository: 0 fixable after", async () => {
    const image = `oci:${layout}:wolfi`;
    const before = await scan(image, dbDir);
    // every origin has secdb fixes newer than its release version (see scan.apk.test.ts)
    expect(new Set(before.findings.map((f) => f.package))).toEqual(
      new Set(["musl", "busybox", "busybox-binsh", "zlib", "libcrypto3", "libssl3"]),
    );
    expect(fixable(before)).toBeGreaterThan(0);

    const dest = join(tmp, "patched-wolfi");
    const r = await patch(image, `oci:${dest}:p`, dbDir, trust());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    expect(fixable(await scan(`oci:${dest}:p`, dbDir))).toBe(0);

    const root = await unpack(`${dest}:p`, "wolfi");
    expect(existsSync(join(root, "etc/apk"))).toBe(false);
    expect(readFileSync(join(root, "etc/os-release"), "utf8")).toMatch(/^ID=wolfi$/m);
    expect(installedVersions(readFileSync(join(root, "lib/apk/db/installed"), "utf8"))).toEqual(
      fx.fixes.packages.map((p) => `${p.spec.name}=${p.spec.version}`).sort(),
    );
    expect(existsSync(join(root, "usr/lib/engines-3/padlock.so"))).toBe(false);
    expect(readdirSync(join(root, "usr/lib")).sort()).toEqual([
      "libcrypto.so.3",
      "libssl.so.3",
      "libz.so.1",
      "libz.so.1.3.2",
    ]);
  });

  it("names Wolfi packages pkg:apk/wolfi/… in the SBOM", async () => {
    const r = await runCli(["sbom", "-i", `oci:${layout}:wolfi`, "--format", "cyclonedx"], env());
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { components: Array<{ name: string; purl?: string }> };
    const purls = doc.components.map((c) => c.purl).filter((p) => p !== undefined);
    expect(purls).toHaveLength(fx.release.packages.length);
    for (const p of purls)
      expect(p).toMatch(/^pkg:apk\/wolfi\/[a-z0-9-]+@[^?]+\?arch=x86_64&distro=wolfi-20230201/);
  });

  it("an Alpine-only database has no data for Wolfi: no findings", async () => {
    const alpineDb = join(tmp, "db-alpine");
    const r = await updateDatabase({ dbDir: alpineDb, locations: { alpine: [SECDB] } });
    expect(r.failures).toEqual([]);
    const doc = await scan(`oci:${layout}:wolfi`, alpineDb);
    expect(doc.findings).toEqual([]);
  });
});

describe("multi-layer Alpine image: a later layer deletes a file and upgrades zlib itself", {
  timeout: 600_000,
}, () => {
  let dbDir: string;
  const zlibFixed = () => {
    const z = fx.fixes.packages.find((p) => p.spec.name === "zlib");
    if (!z) throw new Error("no zlib");
    return z;
  };

  beforeAll(async () => {
    dbDir = join(tmp, "db-alpine-layers");
    const r = await updateDatabase({ dbDir, locations: { alpine: [SECDB] } });
    expect(r.failures).toEqual([]);
    await buildAlpineImage(layout, "layered", {
      key: fx.key,
      osId: "alpine",
      versionId: "3.21.3",
      packages: fx.release.packages,
      repositories: [`${server.url}/fixes/main`],
      extraFiles: { "/etc/motd": "Welcome to the ocipatch test image\n" },
    });
    // what `rm /etc/motd && apk add -u zlib` leaves in a layer: the new zlib files, whiteouts for
    // the removed ones, and the rewritten installed db (zlib's record replaced)
    const z = zlibFixed();
    await appendLayer(layout, "layered", "RUN rm /etc/motd && apk add -u zlib", (root) => {
      putFile(root, "/etc/.wh.motd", "");
      putFile(root, "/usr/lib/.wh.libz.so.1.3.1", "");
      for (const f of z.spec.files) {
        if (f.symlink !== undefined) {
          mkdirSync(join(root, "usr/lib"), { recursive: true });
          symlinkSync(f.symlink, join(root, f.path));
        } else putFile(root, f.path, f.content ?? Buffer.alloc(0), f.mode ?? 0o644);
      }
      putFile(
        root,
        "/lib/apk/db/installed",
        installedDb(fx.release.packages.map((p) => (p.spec.name === "zlib" ? z : p))),
      );
    });
  }, 300_000);

  it("patch reads the merged view: zlib is already fixed, the rest is upgraded, deletions stay", async () => {
    const image = `oci:${layout}:layered`;
    const lowerRoot = await unpack(`${layout}:layered`, "layered");
    expect(existsSync(join(lowerRoot, "etc/motd"))).toBe(false);
    expect(existsSync(join(lowerRoot, "usr/lib/libz.so.1.3.1"))).toBe(false);
    const before = await scan(image, dbDir);
    expect(fixable(before)).toBeGreaterThan(0);
    expect(before.findings.map((f) => f.package)).not.toContain("zlib");

    const dest = join(tmp, "patched-layered");
    const r = await patch(image, `oci:${dest}:p`, dbDir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    const doc = JSON.parse(r.stdout) as {
      platforms: Array<{ packages: Array<{ name: string; from: string | null; to: string }> }>;
    };
    const from = new Map(fx.release.packages.map((p) => [p.spec.name, p.spec.version]));
    expect(doc.platforms[0]?.packages.map((p) => `${p.name} ${p.from}->${p.to}`).sort()).toEqual(
      fx.fixes.packages
        .filter((p) => p.spec.name !== "zlib")
        .map((p) => `${p.spec.name} ${from.get(p.spec.name)}->${p.spec.version}`)
        .sort(),
    );
    expect(fixable(await scan(`oci:${dest}:p`, dbDir))).toBe(0);

    const inspect = async (ref: string) =>
      (JSON.parse((await run("skopeo", ["inspect", ref])).stdout) as { Layers: string[] }).Layers;
    const lowerLayers = await inspect(image);
    expect(lowerLayers).toHaveLength(2);
    expect(await inspect(`oci:${dest}:p`)).toEqual([...lowerLayers, expect.any(String)]);

    const root = await unpack(`${dest}:p`, "patched-layered");
    const db = readFileSync(join(root, "lib/apk/db/installed"), "utf8");
    expect(installedVersions(db)).toEqual(
      fx.fixes.packages.map((p) => `${p.spec.name}=${p.spec.version}`).sort(),
    );
    // zlib's record is the one the upper layer wrote, kept as is
    expect(db).toContain(installedRecord(zlibFixed()));
    expect(existsSync(join(root, "etc/motd"))).toBe(false);
    expect(existsSync(join(root, "usr/lib/libz.so.1.3.1"))).toBe(false);
    expect(readFileSync(join(root, "usr/lib/libz.so.1.3.2"), "utf8")).toBe("zlib 1.3.2-r1 stand-in\n");
    expect(existsSync(join(root, "usr/lib/engines-3/padlock.so"))).toBe(false);
    expect(readFileSync(join(root, "etc/busybox-version"), "utf8")).toBe("1.37.0-r14\n");
  });
});

describe("multi-platform Alpine index (x86_64 + aarch64 packages in the repository)", {
  timeout: 600_000,
}, () => {
  let dbDir: string;
  let arm: ApkFixtures;

  interface PatchDoc {
    platforms: Array<{
      platform: string;
      status: string;
      patchedDigest?: string;
      packages: Array<{ name: string; from: string | null; to: string; architecture?: string }>;
    }>;
  }

  /** Tags the children of the index tagged `tag` as `<tag>-<arch>` so umoci can unpack them. */
  function children(dir: string, tag: string): Map<string, string> {
    const top = taggedDescriptor(dir, tag);
    expect(top.mediaType).toBe(MEDIA_INDEX);
    const out = new Map<string, string>();
    for (const d of readJsonBlob<OciIndex>(dir, top.digest).manifests) {
      const arch = d.platform?.architecture as string;
      tagDescriptor(dir, `${tag}-${arch}`, d);
      out.set(arch, d.digest);
    }
    return out;
  }

  const versions = (f: ApkFixtures, state: "release" | "fixes") =>
    f[state].packages.map((p) => `${p.spec.name}=${p.spec.version}`).sort();

  beforeAll(async () => {
    dbDir = join(tmp, "db-alpine-multi");
    const r = await updateDatabase({ dbDir, locations: { alpine: [SECDB] } });
    expect(r.failures).toEqual([]);
    arm = buildApkFixtures(fx.key, "aarch64");
    await writeApkRepositories(repoDir, arm);
    const base = {
      key: fx.key,
      osId: "alpine",
      versionId: "3.21.3",
      repositories: [`${server.url}/fixes/main`],
    };
    await buildAlpineImage(layout, "multi-amd64", { ...base, packages: fx.release.packages });
    await buildAlpineImage(layout, "multi-arm64", {
      ...base,
      packages: arm.release.packages,
      architecture: "arm64",
    });
    tagIndex(layout, "multi", ["multi-amd64", "multi-arm64"]);
  }, 300_000);

  it("patch --all patches both children; each installed db lists its architecture's fixed versions", async () => {
    const dest = join(tmp, "patched-multi");
    const r = await patch(`oci:${layout}:multi`, `oci:${dest}:p`, dbDir, ["--all"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    const doc = JSON.parse(r.stdout) as PatchDoc;
    expect(doc.platforms.map((p) => `${p.platform} ${p.status}`)).toEqual([
      "linux/amd64 patched",
      "linux/arm64 patched",
    ]);
    const before = children(layout, "multi");
    const after = children(dest, "p");
    expect(after.get("amd64")).not.toBe(before.get("amd64"));
    expect(after.get("arm64")).not.toBe(before.get("arm64"));

    for (const [ociArch, apkArch, f] of [
      ["amd64", "x86_64", fx],
      ["arm64", "aarch64", arm],
    ] as const) {
      const root = await unpack(`${dest}:p-${ociArch}`, `multi-${ociArch}`);
      const db = readFileSync(join(root, "lib/apk/db/installed"), "utf8");
      expect(installedVersions(db), ociArch).toEqual(versions(f, "fixes"));
      const archs = new Set(db.split("\n").filter((l) => l.startsWith("A:")));
      expect(archs, ociArch).toEqual(new Set([`A:${apkArch}`]));
      for (const p of f.fixes.packages) expect(db).toContain(installedRecord(p));
      // the files come from that architecture's packages
      expect(readFileSync(join(root, `lib/ld-musl-${apkArch}.so.1`), "utf8")).toBe(
        "musl 1.2.5-r11 stand-in\n",
      );
      expect(existsSync(join(root, "usr/lib/engines-3/padlock.so"))).toBe(false);
    }
    const armRoot = join(tmp, "bundle-multi-arm64", "rootfs");
    expect(readFileSync(join(armRoot, "bin/busybox"), "utf8")).toBe("busybox 1.37.0-r14 aarch64 stand-in\n");
    const amdBusybox = (await run("file", ["-L", join(tmp, "bundle-multi-amd64", "rootfs", "bin/busybox")]))
      .stdout;
    expect(amdBusybox).toMatch(/x86-64/);
  });

  it("--platform linux/arm64 patches only that child; amd64 keeps its digest", async () => {
    const dest = join(tmp, "patched-multi-arm");
    const r = await patch(`oci:${layout}:multi`, `oci:${dest}:p`, dbDir, ["--platform", "linux/arm64"]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as PatchDoc;
    expect(doc.platforms.map((p) => `${p.platform} ${p.status}`)).toEqual(["linux/arm64 patched"]);
    const before = children(layout, "multi");
    const after = children(dest, "p");
    expect([...after.keys()]).toEqual(["amd64", "arm64"]);
    expect(after.get("amd64")).toBe(before.get("amd64"));
    expect(after.get("arm64")).not.toBe(before.get("arm64"));
    expect(after.get("arm64")).toBe(doc.platforms[0]?.patchedDigest);
    const root = await unpack(`${dest}:p-arm64`, "multi-arm-only");
    const db = readFileSync(join(root, "lib/apk/db/installed"), "utf8");
    expect(installedVersions(db)).toEqual(versions(arm, "fixes"));
    expect(new Set(db.split("\n").filter((l) => l.startsWith("A:")))).toEqual(new Set(["A:aarch64"]));
    const amdRoot = await unpack(`${dest}:p-amd64`, "multi-amd-kept");
    expect(installedVersions(readFileSync(join(amdRoot, "lib/apk/db/installed"), "utf8"))).toEqual(
      versions(fx, "release"),
    );
  });
});

describe("fleet mode (PatchConfig) passes --repository and --keyring like single-image mode", {
  timeout: 600_000,
}, () => {
  const reg = inject("registry");
  let dbDir: string;
  let repo: string;
  let config: string;

  beforeAll(async () => {
    dbDir = join(tmp, "db-alpine-fleet");
    const r = await updateDatabase({ dbDir, locations: { alpine: [SECDB] } });
    expect(r.failures).toEqual([]);
    await buildAlpineImage(layout, "fleet-distroless", {
      key: fx.key,
      osId: "alpine",
      versionId: "3.21.3",
      packages: fx.release.packages,
      distroless: true,
    });
    repo = `apk-fleet/distroless-${process.pid}-${Date.now()}`;
    await run("skopeo", [
      "copy",
      "-q",
      "--dest-tls-verify=false",
      `oci:${layout}:fleet-distroless`,
      `docker://${reg.host}/${repo}:3.21`,
    ]);
    config = join(tmp, "fleet.yaml");
    writeFileSync(
      config,
      `apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: ${reg.host}/${repo}\n    tags: {strategy: list, list: ["3.21"]}\n`,
    );
  }, 300_000);

  const fleet = (extra: string[]) =>
    runCli(
      [
        "patch",
        "--config",
        config,
        "--push",
        "--format",
        "json",
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--no-referrers",
        ...extra,
      ],
      env(),
    );

  it("without --repository the distroless image fails (it has no /etc/apk/repositories)", async () => {
    const r = await fleet([]);
    expect(r.code).toBe(1);
    const results = JSON.parse(r.stdout) as Array<{ status: string; error?: { message: string } }>;
    expect(results.map((x) => x.status)).toEqual(["failed"]);
    expect(results[0]?.error?.message).toMatch(/no apk repository/);
  });

  it("with --repository and --keyring it is patched and pushed: the fixed versions, 0 fixable after", async () => {
    const r = await fleet([
      "--repository",
      `${server.url}/fixes/main`,
      "--keyring",
      join(repoDir, "keys", fx.key.name),
    ]);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{
      status: string;
      destination: string;
      fixableBefore: number;
      fixableAfter: number;
    }>;
    expect(results.map((x) => x.status)).toEqual(["patched"]);
    expect(results[0]?.destination).toBe(`${reg.host}/${repo}:3.21-patched`);
    expect(results[0]?.fixableBefore).toBeGreaterThan(0);
    expect(results[0]?.fixableAfter).toBe(0);
    const pulled = join(tmp, "fleet-pulled");
    await run("skopeo", [
      "copy",
      "-q",
      "--src-tls-verify=false",
      `docker://${reg.host}/${repo}:3.21-patched`,
      `oci:${pulled}:p`,
    ]);
    const root = await unpack(`${pulled}:p`, "fleet");
    expect(installedVersions(readFileSync(join(root, "lib/apk/db/installed"), "utf8"))).toEqual(
      fx.fixes.packages.map((p) => `${p.spec.name}=${p.spec.version}`).sort(),
    );
    expect(existsSync(join(root, "etc/apk"))).toBe(false);
  });
});
