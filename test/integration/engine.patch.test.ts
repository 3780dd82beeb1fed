/**
 * `ocipatch patch` with the local engine store (kubescape's current defaults): an image
 * that only exists in a real dockerd's store (`docker load`), patched from a bare
 * reference, loaded back as `REF-patched` and run by docker; `--push`; each
 * `--output-mode`; the early error when no engine answers. Oracles: the docker CLI,
 * skopeo, umoci and the image's own dpkg.
 */
import { existsSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openImage } from "../../src/transport/index.js";
import { updateDatabase } from "../../src/vulndb/index.js";
import { startDockerd, type TestEngine } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { assertDpkgHealthy, dpkgChecks, dpkgList, unpackImage } from "../harness/oracle.js";
import { runCli, TRACKER_SUBSET } from "../harness/patch-support.js";

const anon = inject("registry");

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

interface PatchJson {
  status: string;
  platforms: Array<{ packages: Array<{ name: string; architecture: string; to: string }> }>;
}

describe("patch with the local engine store (real dockerd)", { timeout: 600_000 }, () => {
  let engine: TestEngine;
  let img: TestImage;
  let dbDir: string;
  const suffix = `${process.pid}-${Date.now()}`;
  const localRef = `local/nginx-${suffix}:1`;
  const registryRef = () => `${anon.host}/engine/nginx-${suffix}:1`;
  const env = () => ({ DOCKER_HOST: engine.host });

  beforeAll(async () => {
    dbDir = temp("engine-db");
    await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
    img = await ensureImage("nginx-bullseye");
    engine = await startDockerd();
    const dir = temp("engine-patch-load");
    // only in the store: loaded under two names, one of them naming the test registry
    await run("skopeo", ["copy", "-q", img.ociRef, `docker-archive:${join(dir, "a.tar")}:${localRef}`]);
    await engine.docker(["load", "-q", "-i", join(dir, "a.tar")]);
    await engine.docker(["tag", localRef, registryRef()]);
  }, 600_000);
  afterAll(async () => {
    await engine?.stop();
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("patch -i REF (from the store) loads REF-patched: docker runs it, docker save passes the dpkg checks", async () => {
    const r = await runCli(
      ["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update", "--format", "json"],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const patched = `${localRef}-patched`;
    expect(r.stderr).toContain(`[success] Patched image successfully. Loaded locally: ${patched}`);
    const res = JSON.parse(r.stdout) as PatchJson;
    expect(res.status).toBe("patched");
    const images = await engine.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(images.stdout.split("\n")).toContain(patched);

    for (const argv of [
      ["nginx", "-v"],
      ["openssl", "version"],
      ["curl", "--version"],
    ]) {
      const out = await engine.docker(["run", "--rm", "--network", "none", patched, ...argv]);
      expect(out.code, argv.join(" ")).toBe(0);
    }

    const dir = temp("engine-patch-save");
    await engine.docker(["save", "-o", join(dir, "p.tar"), patched]);
    const { rootfs } = await unpackImage(`docker-archive:${join(dir, "p.tar")}`, join(dir, "bundle"));
    const checks = await dpkgChecks(rootfs);
    assertDpkgHealthy(checks, "patched image from the store");
    const installed = await dpkgList(rootfs);
    for (const x of res.platforms[0]!.packages) {
      expect(installed.get(x.name) ?? installed.get(`${x.name}:${x.architecture}`), x.name).toBe(x.to);
    }
    // nothing was pushed anywhere: the registry never saw this repository
    const reg = await run(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", `docker://${registryRef()}-patched`],
      {
        okCodes: [0, 1, 2],
      },
    );
    expect(reg.code).not.toBe(0);
  });

  it("--push pushes to the source registry (and loads nothing)", async () => {
    const r = await runCli(
      ["patch", "--push", "-i", registryRef(), "--db-dir", dbDir, "--skip-db-update"],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Patched image successfully. Pushed: ${registryRef()}-patched`);
    const sk = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${registryRef()}-patched`]);
    expect((JSON.parse(sk.stdout) as { Layers: string[] }).Layers).toHaveLength(img.layers + 1);
    const images = await engine.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    expect(images.stdout).not.toContain(`${registryRef()}-patched`);
  });

  it("--output-mode image is docker: loaded, under -t", async () => {
    const r = await runCli(
      [
        "patch",
        "-i",
        localRef,
        "--output-mode",
        "image",
        "-t",
        "by-tag",
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const want = localRef.replace(/:1$/, ":by-tag");
    expect(r.stderr).toContain(`Loaded locally: ${want}`);
    await engine.docker(["image", "inspect", want]);
  });

  it("--output-mode oci --output-path FILE writes an OCI archive", async () => {
    const dir = temp("engine-patch-oci");
    const file = join(dir, "patched.tar");
    const r = await runCli(
      [
        "patch",
        "-i",
        localRef,
        "--output-mode",
        "oci",
        "--output-path",
        file,
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Patched image successfully. Exported to: ${file}`);
    // tar itself lists the layout; the image keeps the engine's Docker media types, which skopeo's
    // OCI transports do not look up (so it is read back here with ocipatch's own reader)
    const listing = (await run("tar", ["-tf", file])).stdout.split("\n");
    expect(listing).toEqual(expect.arrayContaining(["oci-layout", "index.json"]));
    const back = await openImage(`oci-archive:${file}:1-patched`);
    expect(await back.layers()).toHaveLength(img.layers + 1);
    expect(readdirSync(dir)).toEqual(["patched.tar"]);
  });

  it("--output-mode local is refused for now, before any work", async () => {
    const dir = temp("engine-patch-local");
    const r = await runCli(
      ["patch", "-i", localRef, "--output-mode", "local", "--output-path", join(dir, "root")],
      env(),
    );
    expect(r.code).toBe(9);
    expect(r.stderr).not.toContain("Scanning image");
    expect(existsSync(join(dir, "root"))).toBe(false);
  });

  it("usage errors: --push with mode oci/local, oci/local without --output-path", async () => {
    for (const extra of [
      ["--push", "--output-mode", "oci", "--output-path", "/tmp/x.tar"],
      ["--push", "--output-mode", "local", "--output-path", "/tmp/x"],
      ["--output-mode", "oci"],
      ["--output-mode", "local"],
      ["--output-mode", "tarball"],
    ]) {
      const r = await runCli(["patch", "-i", localRef, ...extra], env());
      expect(r.code, extra.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    }
  });

  it("mode docker with no engine fails before any work, saying to pass --push or --output-mode", async () => {
    const t0 = Date.now();
    const r = await runCli(["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update"], {
      DOCKER_HOST: "unix:///tmp/ocipatch-no-engine-here.sock",
    });
    expect(r.code).toBe(5);
    expect(r.stderr).not.toContain("Scanning image");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(
      /no container engine is running at unix:\/\/\/tmp\/ocipatch-no-engine-here\.sock/,
    );
    expect(r.stderr).toMatch(/pass --push .* or --output-mode oci/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
