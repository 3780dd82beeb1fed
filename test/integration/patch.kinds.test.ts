/**
 * `ocipatch patch` across image kinds (issue 7), end to end: real images (mmdebstrap from the
 * mirror and Ubuntu's archive), the harness registry, real .debs, and independent oracles
 * (skopeo, umoci, dpkg/apt in a chroot or the host's dpkg with --root/--admindir).
 *
 * - distroless-bookworm: status.d updated in place, no status file or info/ invented;
 * - ubuntu-jammy / ubuntu-noble: zstd .debs from -security/-updates, versions equal apt's own;
 * - multiarch-bookworm: every platform patched natively, the new index keeps order and
 *   annotations; --platform patches one child and keeps the other's digest;
 * - bad input: a platform the index lacks.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { withChroot } from "../harness/chroot.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type ImageName } from "../harness/images.js";
import { startMirrorProxy } from "../harness/mirror-proxy.js";
import {
  aptInstallUpgrades,
  assertDpkgHealthy,
  dpkgChecks,
  dpkgList,
  type PackageList,
  unpackImage,
} from "../harness/oracle.js";
import { OCIPATCH_CACHE, runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";
import { referrerBlobDigests } from "../harness/referrers-http.js";
import { registryLog } from "../harness/registry.js";

const reg = inject("registry");

const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

interface PatchJson {
  status: string;
  destination?: { location: string; digest: string; stats: { blobsUploaded: number } };
  platforms: Array<{
    platform: string;
    status: string;
    sourceDigest: string;
    patchedDigest?: string;
    after?: { total: number; fixable: number };
    packages: Array<{ name: string; architecture: string; from?: string; to: string }>;
    unresolved: Array<{ package: string; reason: string }>;
    warnings: string[];
    maintainerEffects?: Array<{ package: string; effect: string; status: string; detail: string }>;
  }>;
}

interface IndexJson {
  mediaType: string;
  manifests: Array<{
    digest: string;
    platform?: { os: string; architecture: string; variant?: string };
    annotations?: Record<string, string>;
  }>;
  annotations?: Record<string, string>;
}

const skopeo = (...args: string[]) => run("skopeo", [...args]).then((r) => r.stdout);
async function rawManifest<T>(ref: string): Promise<T> {
  return JSON.parse(await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${ref}`)) as T;
}
async function layersOf(ref: string, platform?: string): Promise<string[]> {
  const flags = platform
    ? [`--override-os=${platform.split("/")[0]}`, `--override-arch=${platform.split("/")[1]}`]
    : [];
  const out = await skopeo("inspect", ...flags, "--tls-verify=false", `docker://${ref}`);
  return (JSON.parse(out) as { Layers: string[] }).Layers;
}

/** Completed blob uploads into `repo` (registry access log), except of the `except` blobs. */
function blobUploads(repo: string, except: ReadonlySet<string> = new Set()): number {
  const log = registryLog({ logFile: reg.logFile } as never);
  const re = new RegExp(
    `"PUT /v2/${repo.replace(/[/.]/g, "\\$&")}/blobs/uploads/[^" ]*digest=([^&" ]+)`,
    "g",
  );
  return [...log.matchAll(re)].filter((m) => !except.has(decodeURIComponent(m[1]!))).length;
}
/** Manifest/index PUTs into `repo`. */
function manifestPuts(repo: string): number {
  const log = registryLog({ logFile: reg.logFile } as never);
  const re = new RegExp(`"PUT /v2/${repo.replace(/[/.]/g, "\\$&")}/manifests/`, "g");
  return [...log.matchAll(re)].length;
}

async function pushTestImage(name: ImageName) {
  const img = await ensureImage(name);
  const repo = `kinds/${name}-${process.pid}-${Date.now()}`;
  const pushed = await pushImage(img, reg.host, `${repo}:1.0`);
  return { img, repo, pushed };
}

async function patch(ref: string, ...extra: string[]) {
  return patchWithEnv({}, ref, ...extra);
}
async function patchWithEnv(env: Record<string, string>, ref: string, ...extra: string[]) {
  const dbDir = await trackerDb();
  const r = await runCli(
    ["patch", "--push", "-i", ref, "--db-dir", dbDir, "--skip-db-update", "--format", "json", ...extra],
    env,
  );
  return r;
}

function expectPlanned(installed: PackageList, packages: PatchJson["platforms"][number]["packages"]): void {
  for (const x of packages) {
    const v = installed.get(x.name) ?? installed.get(`${x.name}:${x.architecture}`);
    expect(v, x.name).toBe(x.to);
  }
}

describe("distroless-bookworm (status.d, no dpkg, no apt)", () => {
  it(
    "--all: status.d updated in place, host dpkg checks pass, versions as planned, one new layer",
    async () => {
      const { repo, pushed } = await pushTestImage("distroless-bookworm");
      const uploadsBefore = blobUploads(repo);
      const r = await patch(pushed.ref, "--all");
      expect(r.stderr, r.stderr).not.toContain("[error]");
      expect(r.code).toBe(0);
      const res = JSON.parse(r.stdout) as PatchJson;
      expect(res.status).toBe("patched");
      const p = res.platforms[0]!;
      const names = p.packages.map((x) => x.name);
      expect(names).toEqual(expect.arrayContaining(["ca-certificates", "libssl3"]));
      // the dependencies distroless never shipped stay out (docs/PATCHING.md "Distroless images")
      expect(names).not.toContain("openssl");
      expect(names).not.toContain("debconf");
      expect(p.packages.every((x) => x.from !== undefined)).toBe(true);
      expect(p.warnings.join("\n")).toMatch(
        /ca-certificates \S+ depends on openssl .*which the image does not have \(nor did it before\)/,
      );
      // without openssl the real postinst would fail: nothing regenerated, said so
      expect(p.maintainerEffects?.find((e) => e.effect === "update-ca-certificates")).toMatchObject({
        package: "ca-certificates",
        status: "skipped",
        detail: expect.stringMatching(/no \/usr\/bin\/openssl/),
      });

      const patchedRef = `${reg.host}/${repo}:1.0-patched`;
      const baseLayers = await layersOf(pushed.ref);
      const layers = await layersOf(patchedRef);
      expect(layers.slice(0, baseLayers.length)).toEqual(baseLayers);
      expect(layers).toHaveLength(baseLayers.length + 1);
      // besides the referrers (VEX statement, SBOM): only the new layer and the config
      const referrerBlobs = await referrerBlobDigests(reg.host, repo, res.destination!.digest);
      expect(blobUploads(repo, referrerBlobs) - uploadsBefore).toBe(2);

      const dir = makeTempDir("kinds-distroless");
      work.push(dir);
      const { rootfs: orig } = await unpackImage(`docker://${pushed.ref}`, join(dir, "orig"));
      const { rootfs } = await unpackImage(`docker://${patchedRef}`, join(dir, "patched"));
      const dpkgDir = join(rootfs, "var/lib/dpkg");
      // same status.d file names; no status file and no info/ directory invented
      expect(readdirSync(join(dpkgDir, "status.d")).sort()).toEqual(
        readdirSync(join(orig, "var/lib/dpkg/status.d")).sort(),
      );
      expect(existsSync(join(dpkgDir, "status"))).toBe(false);
      expect(existsSync(join(dpkgDir, "info"))).toBe(existsSync(join(orig, "var/lib/dpkg/info")));
      const caFile = readdirSync(join(dpkgDir, "status.d")).find((f) =>
        /^Package: ca-certificates$/m.test(readFileSync(join(dpkgDir, "status.d", f), "utf8")),
      )!;
      const ca = p.packages.find((x) => x.name === "ca-certificates")!;
      expect(readFileSync(join(dpkgDir, "status.d", caFile), "utf8")).toContain(`Version: ${ca.to}`);

      const checks = await dpkgChecks(rootfs);
      expect(checks.mode).toBe("host");
      assertDpkgHealthy(checks, "distroless-bookworm patched");
      expect(checks.verify, checks.verify.join("\n")).toEqual([]);
      expectPlanned(await dpkgList(rootfs), p.packages);
      // the patched libssl3 loads with the image's own dynamic loader and libraries (no shell here)
      const libdir = join(rootfs, "usr/lib/x86_64-linux-gnu");
      const ld = await run(join(libdir, "ld-linux-x86-64.so.2"), [
        "--library-path",
        libdir,
        "--list",
        join(libdir, "libssl.so.3"),
      ]);
      expect(ld.stdout).toContain(`libcrypto.so.3 => ${join(libdir, "libcrypto.so.3")}`);
    },
    15 * 60_000,
  );
});

describe.each([{ name: "ubuntu-jammy" as const }, { name: "ubuntu-noble" as const }])(
  "$name (Ubuntu's archive, zstd .debs)",
  ({ name }) => {
    it(
      "--all: patched from -security/-updates, dpkg/apt checks pass, versions equal apt's own upgrade, programs run",
      async () => {
        const { repo, pushed } = await pushTestImage(name);
        const r = await patch(pushed.ref, "--all");
        expect(r.stderr, r.stderr).not.toContain("[error]");
        expect(r.code).toBe(0);
        const res = JSON.parse(r.stdout) as PatchJson;
        expect(res.status).toBe("patched");
        const p = res.platforms[0]!;
        expect(p.packages.length).toBeGreaterThan(10);
        expect(p.unresolved).toEqual([]);
        expect(r.stderr).toMatch(/\.ubuntu\.com\/ubuntu\/dists\/\S+-security\/InRelease/);
        expect(r.stderr).toMatch(/\/dists\/\S+-updates\/InRelease/);
        const patchedRef = `${reg.host}/${repo}:1.0-patched`;
        const baseLayers = await layersOf(pushed.ref);
        expect(await layersOf(patchedRef)).toHaveLength(baseLayers.length + 1);

        // Ubuntu's .debs carry zstd members: the upgraded tar's .deb, as cached by ocipatch
        const tar = p.packages.find((x) => x.name === "tar")!;
        expect(tar).toBeDefined();
        expect(await debMembers("tar", tar.to)).toContain("data.tar.zst");

        const dir = makeTempDir(`kinds-${name}`);
        work.push(dir);
        const { rootfs } = await unpackImage(`docker://${patchedRef}`, join(dir, "patched"));
        const checks = await dpkgChecks(rootfs);
        expect(checks.mode).toBe("chroot");
        expect(checks.apt?.ok, checks.apt?.output).toBe(true);
        assertDpkgHealthy(checks, `${name} patched`);
        expect(checks.verify, checks.verify.join("\n")).toEqual([]);
        const installed = await dpkgList(rootfs);
        expectPlanned(installed, p.packages);
        await withChroot(rootfs, async (c) => {
          for (const argv of [
            ["bash", "--version"],
            ["tar", "--version"],
            ["ls", "/"],
            ["apt-get", "--version"],
          ]) {
            expect((await c.run(argv)).code, argv.join(" ")).toBe(0);
          }
        });

        // the oracle: apt itself upgrades the original image in a chroot
        const { rootfs: aptRoot } = await unpackImage(`docker://${pushed.ref}`, join(dir, "apt"));
        const apt = await aptInstallUpgrades(aptRoot, { packages: "all", inPlace: true });
        expect(Object.fromEntries(installed)).toEqual(Object.fromEntries(apt.after));
      },
      20 * 60_000,
    );
  },
);

/** `ar t` of the cached .deb of package=version (ocipatch keeps verified .debs by SHA256). */
async function debMembers(pkg: string, version: string): Promise<string[]> {
  const dir = join(OCIPATCH_CACHE, "debs");
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".deb"))) {
    const path = join(dir, f);
    const members = (await run("ar", ["t", path])).stdout.split("\n").filter(Boolean);
    if (!members.some((m) => m.endsWith(".zst"))) continue;
    const fields = await run("dpkg-deb", ["--field", path, "Package", "Version"]);
    const id = fields.stdout
      .split("\n")
      .map((l) => l.replace(/^\w+: /, ""))
      .filter(Boolean)
      .join(" ");
    if (id === `${pkg} ${version}`) return members;
  }
  throw new Error(`no cached .deb with zstd members for ${pkg} ${version}`);
}

describe("multiarch-bookworm (index: linux/amd64 + linux/arm64/v8)", () => {
  const platformKey = (m: IndexJson["manifests"][number]) =>
    [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join("/");

  it(
    "--all: every platform patched natively; the new index keeps order and annotations; each child passes dpkg checks",
    async () => {
      const { repo, pushed } = await pushTestImage("multiarch-bookworm");
      const before = await rawManifest<IndexJson>(pushed.ref);
      // --ignore-errors: a .deb the mirror 404s (this machine's route for arm64 in the security
      // archive) is skipped with its source group and reported per package instead of failing
      const r = await patch(pushed.ref, "--all", "--ignore-errors");
      expect(r.stderr, r.stderr).not.toContain("[error]");
      expect(r.code).toBe(0);
      const res = JSON.parse(r.stdout) as PatchJson;
      expect(res.status).toBe("patched");
      expect(res.platforms.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64/v8"]);
      for (const p of res.platforms) {
        expect(p.status, p.platform).toBe("patched");
        expect(p.packages.length, p.platform).toBeGreaterThan(0);
        for (const u of p.unresolved)
          expect(u.reason, `${p.platform} ${u.package}`).toMatch(/HTTP 404|dropped/);
      }

      const patchedRef = `${reg.host}/${repo}:1.0-patched`;
      const after = await rawManifest<IndexJson>(patchedRef);
      expect(after.mediaType).toBe(before.mediaType);
      expect(after.annotations).toEqual(before.annotations);
      expect(after.manifests.map(platformKey)).toEqual(before.manifests.map(platformKey));
      expect(after.manifests.map((m) => m.annotations)).toEqual(before.manifests.map((m) => m.annotations));
      after.manifests.forEach((m, i) => {
        expect(m.digest).not.toBe(before.manifests[i]!.digest);
        expect(m.digest).toBe(res.platforms[i]!.patchedDigest);
      });

      const dir = makeTempDir("kinds-multiarch");
      work.push(dir);
      for (const [i, p] of res.platforms.entries()) {
        const platform = platformKey(before.manifests[i]!);
        // base layers untouched, one layer on top
        const baseLayers = await layersOf(pushed.ref, platform);
        const layers = await layersOf(patchedRef, platform);
        expect(layers.slice(0, baseLayers.length), platform).toEqual(baseLayers);
        expect(layers, platform).toHaveLength(baseLayers.length + 1);

        const { rootfs } = await unpackImage(`docker://${patchedRef}`, join(dir, `p${i}`), { platform });
        const checks = await dpkgChecks(rootfs, { apt: false });
        expect(checks.arch).toBe(p.platform.includes("arm64") ? "arm64" : "amd64");
        // arm64 is verified with the host's dpkg (--root/--admindir): nothing of the image runs
        expect(checks.mode).toBe(p.platform.includes("arm64") ? "host" : "chroot");
        assertDpkgHealthy(checks, `multiarch ${p.platform} patched`);
        expect(checks.verify, checks.verify.join("\n")).toEqual([]);
        expectPlanned(await dpkgList(rootfs), p.packages);
        expect(p.packages.every((x) => x.architecture === checks.arch || x.architecture === "all")).toBe(
          true,
        );
        if (checks.arch === "arm64") {
          // the patched perl-base binary really is an aarch64 ELF
          const file = (await run("file", ["-L", join(rootfs, "usr/bin/perl")])).stdout;
          expect(file).toContain("aarch64");
        }
      }
    },
    20 * 60_000,
  );

  it(
    "--platform linux/arm64 patches only that child; amd64 keeps its digest in the new index",
    async () => {
      const { repo, pushed } = await pushTestImage("multiarch-bookworm");
      const before = await rawManifest<IndexJson>(pushed.ref);
      const r = await patch(pushed.ref, "--all", "--ignore-errors", "--platform", "linux/arm64");
      expect(r.stderr, r.stderr).not.toContain("[error]");
      expect(r.code).toBe(0);
      const res = JSON.parse(r.stdout) as PatchJson;
      expect(res.platforms.map((p) => p.platform)).toEqual(["linux/arm64/v8"]);
      expect(res.platforms[0]!.status).toBe("patched");
      const after = await rawManifest<IndexJson>(`${reg.host}/${repo}:1.0-patched`);
      expect(after.manifests.map(platformKey)).toEqual(["linux/amd64", "linux/arm64/v8"]);
      expect(after.manifests[0]).toEqual(before.manifests[0]);
      expect(after.manifests[1]!.digest).toBe(res.platforms[0]!.patchedDigest);
      expect(after.manifests[1]!.digest).not.toBe(before.manifests[1]!.digest);
      expect(after.manifests[1]!.annotations).toEqual(before.manifests[1]!.annotations);
    },
    15 * 60_000,
  );

  it("--suites updates,release plans arm64 without the security archive (dry run)", async () => {
    const img = await ensureImage("multiarch-bookworm");
    const r = await patch(
      img.ociRef,
      "--all",
      "--dry-run",
      "--platform",
      "linux/arm64",
      "--suites",
      "updates,release",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Get http:\/\/\S+\/dists\/bookworm-updates\/InRelease/);
    expect(r.stderr).not.toContain("bookworm-security");
    const res = JSON.parse(r.stdout) as PatchJson;
    expect(res.status).toBe("dry-run");
    expect(res.platforms.map((p) => p.platform)).toEqual(["linux/arm64/v8"]);
    const bad = await patch(img.ociRef, "--all", "--dry-run", "--suites", "backports");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown suite kind "backports".*\(--suites\)/);
  });

  it("--platform linux/s390x: one-line PLATFORM_NOT_FOUND error, exit 3, nothing pushed", async () => {
    const { repo, pushed } = await pushTestImage("multiarch-bookworm");
    const puts = manifestPuts(repo);
    const uploads = blobUploads(repo);
    const r = await patch(pushed.ref, "--all", "--platform", "linux/s390x");
    expect(r.code).toBe(3);
    const errors = r.stderr.split("\n").filter((l) => l.includes("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /no image for platform linux\/s390x \(the index has: linux\/amd64, linux\/arm64\/v8\)/,
    );
    // --format json: the failure as JSON on stdout
    expect(JSON.parse(r.stdout)).toMatchObject({ status: "failed", error: { code: "PLATFORM_NOT_FOUND" } });
    expect(manifestPuts(repo)).toBe(puts);
    expect(blobUploads(repo)).toBe(uploads);
    await expect(rawManifest(`${reg.host}/${repo}:1.0-patched`)).rejects.toThrow();
  });
});

describe("a planned .deb the mirror answers 404 for (debian-bookworm)", () => {
  it(
    "fails with one line and pushes nothing; --ignore-errors skips its source group and reports it",
    async () => {
      const { repo, pushed } = await pushTestImage("debian-bookworm");
      // the real mirror behind a loopback front that has "lost" libapt-pkg6.0's new .deb
      const proxy = await startMirrorProxy(
        "http://deb.debian.org",
        (path) => path.includes("/pool/") && path.includes("/libapt-pkg6.0_"),
      );
      try {
        // a fresh ocipatch cache: a .deb verified by an earlier run would never be asked for
        const cacheEnv = { OCIPATCH_CACHE_DIR: makeTempDir("kinds-404-cache") };
        work.push(cacheEnv.OCIPATCH_CACHE_DIR);
        const mirrors = [
          "--mirror",
          `${proxy.url}/debian`,
          "--security-mirror",
          `${proxy.url}/debian-security`,
        ];
        const puts = manifestPuts(repo);
        const failed = await patchWithEnv(cacheEnv, pushed.ref, "--all", ...mirrors);
        expect(failed.code).toBe(3);
        const errors = failed.stderr.split("\n").filter((l) => l.includes("[error]"));
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(
          /linux\/amd64: 1 package is no longer on the mirror \(HTTP 404\): libapt-pkg6\.0 \S+ — /,
        );
        expect(errors[0]).toContain("--ignore-errors");
        expect(manifestPuts(repo)).toBe(puts);
        expect(proxy.refused.length).toBeGreaterThan(0);

        const r = await patchWithEnv(cacheEnv, pushed.ref, "--all", "--ignore-errors", ...mirrors);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stderr).toMatch(/\[warning\] .*libapt-pkg6\.0 .*HTTP 404.*skipped with its source package/);
        const res = JSON.parse(r.stdout) as PatchJson;
        expect(res.status).toBe("patched");
        const p = res.platforms[0]!;
        // apt is built from the same source: both stay, each reported with its reason
        const unresolved = Object.fromEntries(p.unresolved.map((u) => [u.package, u.reason]));
        expect(unresolved["libapt-pkg6.0"]).toMatch(/is not on the mirror \(HTTP 404\)/);
        expect(unresolved["apt"]).toMatch(/is not on the mirror \(HTTP 404\)/);
        const names = p.packages.map((x) => x.name);
        expect(names).not.toContain("apt");
        expect(names).not.toContain("libapt-pkg6.0");
        expect(names.length).toBeGreaterThan(0);
        // the layer was started while the packages downloaded, and built again without the two
        const builds = [...r.stderr.matchAll(/building the patch layer \((\d+) packages\)/g)].map((m) =>
          Number(m[1]),
        );
        expect(builds, r.stderr).toEqual([names.length + 2, names.length]);

        const dir = makeTempDir("kinds-404");
        work.push(dir);
        const { rootfs: orig } = await unpackImage(`docker://${pushed.ref}`, join(dir, "orig"));
        const { rootfs } = await unpackImage(
          `docker://${reg.host}/${repo}:1.0-patched`,
          join(dir, "patched"),
        );
        const installed = await dpkgList(rootfs);
        const before = await dpkgList(orig);
        expect(installed.get("apt")).toBe(before.get("apt"));
        expect(installed.get("libapt-pkg6.0")).toBe(before.get("libapt-pkg6.0"));
        expectPlanned(installed, p.packages);
        assertDpkgHealthy(await dpkgChecks(rootfs, { apt: false }), "debian-bookworm patched without apt");
      } finally {
        await proxy.close();
      }
    },
    15 * 60_000,
  );
});

describe("multiarch-bookworm: every arm64 .deb answered 404", () => {
  it(
    "one error line (count, first few), the full list in --format json and -r, nothing pushed",
    async () => {
      const { repo, pushed } = await pushTestImage("multiarch-bookworm");
      const proxy = await startMirrorProxy(
        "http://deb.debian.org",
        (path) => path.includes("/pool/") && path.endsWith("_arm64.deb"),
      );
      try {
        const cacheEnv = { OCIPATCH_CACHE_DIR: makeTempDir("kinds-404-arm64-cache") };
        work.push(cacheEnv.OCIPATCH_CACHE_DIR);
        const reportDir = makeTempDir("kinds-404-arm64-report");
        work.push(reportDir);
        const puts = manifestPuts(repo);
        const r = await patchWithEnv(
          cacheEnv,
          pushed.ref,
          "--all",
          "--mirror",
          `${proxy.url}/debian`,
          "--security-mirror",
          `${proxy.url}/debian-security`,
          "-r",
          "--report-dir",
          reportDir,
        );
        expect(r.code).not.toBe(0);
        const errors = r.stderr.split("\n").filter((l) => l.includes("[error]"));
        expect(errors).toHaveLength(1);
        const m =
          /linux\/arm64\/v8: (\d+) packages are no longer on the mirror \(HTTP 404\): (.*) and (\d+) more — /.exec(
            errors[0]!,
          );
        expect(m, errors[0]).not.toBeNull();
        const n = Number(m![1]);
        expect(m![2]!.split(", ")).toHaveLength(3);
        expect(Number(m![3])).toBe(n - 3);
        expect(errors[0]!.length).toBeLessThan(600);
        expect(errors[0]).toContain("--ignore-errors");
        // the full list: JSON on stdout and the -r error report, one entry per refused .deb
        const json = JSON.parse(r.stdout) as {
          status: string;
          error: {
            code: string;
            details: { failures: Array<{ class: string; package: string; url: string }> };
          };
        };
        expect(json.status).toBe("failed");
        expect(json.error.code).toBe("NOT_FOUND");
        const failures = json.error.details.failures;
        expect(failures).toHaveLength(n);
        expect(failures.every((f) => f.class === "not-on-mirror" && f.url.endsWith("_arm64.deb"))).toBe(true);
        expect(new Set(failures.map((f) => new URL(f.url).pathname))).toEqual(
          new Set(proxy.refused.filter((x) => x.endsWith("_arm64.deb"))),
        );
        const files = readdirSync(reportDir).filter((f) => f.endsWith("-error.json"));
        expect(files).toHaveLength(1);
        const report = JSON.parse(readFileSync(join(reportDir, files[0]!), "utf8")) as typeof json;
        expect(report.error.details.failures).toEqual(failures);
        expect(manifestPuts(repo)).toBe(puts);
      } finally {
        await proxy.close();
      }
    },
    15 * 60_000,
  );
});
