/**
 * `ocipatch patch` end to end: real images (mmdebstrap from the mirror), real registries
 * (anonymous and htpasswd), real .debs from the mirror, and independent oracles
 * (skopeo, umoci, the image's own dpkg/apt in a chroot).
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { withChroot } from "../harness/chroot.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import {
  aptInstallUpgrades,
  assertDpkgHealthy,
  dpkgChecks,
  dpkgList,
  unpackImage,
} from "../harness/oracle.js";
import { runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";
import { referrerBlobDigests } from "../harness/referrers-http.js";
import { registryLog } from "../harness/registry.js";
import { diffRootfs } from "../harness/rootfs-diff.js";

const anon = inject("registry");
const authReg = inject("authRegistry");
const creds = { username: authReg.username, password: authReg.password };

const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

interface PatchJson {
  status: string;
  destination?: { location: string; digest: string; stats: { blobsUploaded: number } };
  platforms: Array<{
    status: string;
    before: { total: number; fixable: number };
    after?: { total: number; fixable: number };
    packages: Array<{ name: string; architecture: string; from?: string; to: string }>;
  }>;
}

async function skopeoInspect(ref: string, c?: { username: string; password: string }) {
  const flags = ["--tls-verify=false", ...(c ? [`--creds=${c.username}:${c.password}`] : [])];
  const { stdout } = await run("skopeo", ["inspect", ...flags, `docker://${ref}`]);
  return JSON.parse(stdout) as { Digest: string; Layers: string[]; Labels: Record<string, string> | null };
}

/** Lines of the registry's access log that complete a blob upload into `repo` (except of the `except` blobs). */
function blobUploads(logFile: string, repo: string, except: ReadonlySet<string> = new Set()): number {
  const log = registryLog({ logFile } as never);
  const re = new RegExp(
    `"PUT /v2/${repo.replace(/[/.]/g, "\\$&")}/blobs/uploads/[^" ]*digest=([^&" ]+)`,
    "g",
  );
  return [...log.matchAll(re)].filter((m) => !except.has(decodeURIComponent(m[1]!))).length;
}

const PROGRAMS = [
  ["openssl", "version"],
  ["nginx", "-v"],
  ["curl", "--version"],
];

/**
 * What may differ between ocipatch's result and apt's own upgrade of the same image (docs/PATCHING.md):
 * logs, caches and apt's bookkeeping, dpkg's backup files, and what maintainer scripts and
 * triggers (not run by ocipatch) regenerate.
 */
const DOCUMENTED_DIFFERENCES: readonly RegExp[] = [
  /^var\/log(\/|$)/,
  /^var\/cache\/(apt|debconf|ldconfig)(\/|$)/,
  /^var\/lib\/apt(\/|$)/,
  /^var\/lib\/dpkg\/(status-old|available|available-old|diversions-old|statoverride-old|lock|lock-frontend|triggers)(\/|$)/,
  /^etc\/ld\.so\.cache$/,
  // ca-certificates' postinst (update-ca-certificates) is not run: the CA list and the hashed
  // links and bundle in /etc/ssl/certs stay as they were (reported as a maintainer-script effect)
  /^etc\/ca-certificates\.conf(\.dpkg-old)?$/,
  /^etc\/ssl\/certs(\/|$)/,
  /^(proc|dev|sys|tmp|run)(\/|$)/,
];

describe.each([
  { name: "nginx-bullseye" as const, registry: "anon" as const, mode: "targets" as const },
  { name: "nginx-bookworm" as const, registry: "auth" as const, mode: "all" as const },
])("ocipatch patch $name ($registry registry, $mode)", ({ name, registry, mode }) => {
  const programs = PROGRAMS;
  it(
    "patches to 0 fixable, uploads one layer, and the image passes dpkg/apt checks with its programs running",
    async () => {
      const reg = registry === "auth" ? authReg : anon;
      const c = registry === "auth" ? creds : undefined;
      const img = await ensureImage(name);
      const repo = `e2e/${name}-${process.pid}-${Date.now()}`;
      const pushed = await pushImage(img, reg.host, `${repo}:1.0`, c);
      const uploadsBefore = blobUploads(reg.logFile, repo);
      const dbDir = await trackerDb();

      const argv = [
        "patch",
        "--push",
        "-i",
        pushed.ref,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--format",
        "json",
      ];
      if (mode === "all") argv.push("--all");
      if (c) argv.push("-u", c.username, "-p", c.password);
      const r = await runCli(argv);
      expect(r.stderr, r.stderr).not.toContain("[error]");
      expect(r.code).toBe(0);
      if (c) expect(r.stdout + r.stderr).not.toContain(c.password);
      for (const line of [
        "[info] Scanning image...",
        "[success] Scanned image successfully",
        "[info] Patching image...",
        "[success] Patched image successfully",
        "[info] Re-scanning image...",
        "[success] Re-scanned image successfully",
      ]) {
        expect(r.stderr).toContain(line);
      }
      expect(r.stderr).toMatch(/Patched image successfully\. Pushed: \S+:1\.0-patched/);
      const res = JSON.parse(r.stdout) as PatchJson;
      expect(res.status).toBe("patched");
      const p = res.platforms[0]!;
      if (mode === "targets") {
        expect(p.before.fixable).toBeGreaterThan(0);
        expect(p.after!.total).toBeLessThan(p.before.total);
      }
      expect(p.packages.length).toBeGreaterThan(0);
      expect(p.after?.fixable).toBe(0);
      const patchedRef = `${reg.host}/${repo}:1.0-patched`;
      expect(res.destination?.location).toContain(`${repo}:1.0-patched`);

      // skopeo reads it; base layers untouched; exactly one new layer
      const base = await skopeoInspect(pushed.ref, c);
      const patched = await skopeoInspect(patchedRef, c);
      expect(patched.Digest).toBe(res.destination!.digest);
      expect(patched.Layers.slice(0, base.Layers.length)).toEqual(base.Layers);
      expect(patched.Layers).toHaveLength(base.Layers.length + 1);
      expect(patched.Labels?.["io.ocipatch.base.digest"]).toBe(pushed.digest);
      // only the new layer and the config were uploaded (besides the referrers: VEX statement, SBOM)
      const referrerBlobs = await referrerBlobDigests(reg.host, repo, res.destination!.digest, c);
      expect(referrerBlobs.size).toBeGreaterThan(0);
      expect(blobUploads(reg.logFile, repo, referrerBlobs) - uploadsBefore).toBe(2);
      expect(res.destination!.stats.blobsUploaded).toBe(2);

      // the oracle: unpack with skopeo + umoci and ask the image's own dpkg and apt
      const dir = makeTempDir(`e2e-${name}`);
      work.push(dir);
      const { rootfs } = await unpackImage(
        `docker://${patchedRef}`,
        join(dir, "bundle"),
        c ? { creds: c } : {},
      );
      const checks = await dpkgChecks(rootfs);
      assertDpkgHealthy(checks, `${name} patched`);
      const upgraded = new Set(p.packages.map((x) => x.name));
      const verifyUpgraded = checks.verify.filter((l) => [...upgraded].some((n) => l.includes(n)));
      expect(checks.verify, checks.verify.join("\n")).toEqual([]);
      expect(verifyUpgraded).toEqual([]);
      const installed = await dpkgList(rootfs);
      for (const x of p.packages) {
        const v = installed.get(x.name) ?? installed.get(`${x.name}:${x.architecture}`);
        expect(v, x.name).toBe(x.to);
      }
      await withChroot(rootfs, async (s) => {
        for (const argv of programs) {
          const out = await s.run(argv);
          expect(out.code, argv.join(" ")).toBe(0);
        }
      });

      if (mode === "all") {
        // the oracle: apt itself upgrades the original image in a chroot
        const { rootfs: aptRoot } = await unpackImage(
          `docker://${pushed.ref}`,
          join(dir, "apt"),
          c ? { creds: c } : {},
        );
        const apt = await aptInstallUpgrades(aptRoot, { packages: "all", inPlace: true });
        expect(Object.fromEntries(installed)).toEqual(Object.fromEntries(apt.after));
        const diff = diffRootfs(aptRoot, rootfs, DOCUMENTED_DIFFERENCES);
        expect(diff.map((d) => `${d.kind} ${d.path}`).join("\n")).toBe("");
      }
    },
    15 * 60_000,
  );
});
