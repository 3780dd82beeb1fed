/**
 * `ocipatch patch` with the local engine store (kubescape's current defaults): an image
 * that only exists in a real dockerd's store (`docker load`), patched from a bare
 * reference, loaded back as `REF-patched` and run by docker; `--push`; each
 * `--output-mode`; the early error when no engine answers. Oracles: the docker CLI,
 * skopeo, umoci and the image's own dpkg.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { startDockerd, type TestEngine } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { assertDpkgHealthy, dpkgChecks, dpkgList, unpackImage } from "../harness/oracle.js";
import { runCli, TRACKER_SUBSET } from "../harness/patch-support.js";
import { diffRootfs } from "../harness/rootfs-diff.js";

const anon = inject("registry");

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

interface RawManifest {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: Array<{ mediaType: string; digest: string }>;
  annotations?: Record<string, string>;
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

  it("--output-mode oci writes OCI media types: skopeo and umoci find it by tag, blobs unchanged, re-patch detected", async () => {
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
        "--format",
        "json",
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Patched image successfully. Exported to: ${file}`);
    expect(readdirSync(dir)).toEqual(["patched.tar"]);
    const res = JSON.parse(r.stdout) as PatchJson & {
      source: { digest: string };
      destination: { digest: string; mediaType: string };
    };
    expect(res.destination.mediaType).toBe(OCI_MANIFEST);

    // skopeo looks the tag up in the archive's index.json and reads OCI media types only
    const raw = JSON.parse(
      (await run("skopeo", ["inspect", "--raw", `oci-archive:${file}:1-patched`])).stdout,
    ) as RawManifest;
    expect(raw.mediaType).toBe(OCI_MANIFEST);
    expect(raw.config.mediaType).toBe("application/vnd.oci.image.config.v1+json");
    for (const l of raw.layers) expect(l.mediaType).toMatch(/^application\/vnd\.oci\.image\.layer\.v1\.tar/);
    expect(raw.layers).toHaveLength(img.layers + 1);
    expect(raw.annotations?.["org.opencontainers.image.base.digest"]).toBe(res.source.digest);
    // the engine's layer blobs are kept byte for byte: same digests as the engine's own diffIDs
    const inspect = JSON.parse((await engine.docker(["image", "inspect", localRef])).stdout) as Array<{
      RootFS: { Layers: string[] };
    }>;
    expect(raw.layers.slice(0, -1).map((l) => l.digest)).toEqual(inspect[0]!.RootFS.Layers);
    const config = JSON.parse(
      (await run("skopeo", ["inspect", "--config", `oci-archive:${file}:1-patched`])).stdout,
    ) as { rootfs: { diff_ids: string[] }; config: { Labels: Record<string, string> } };
    expect(config.rootfs.diff_ids.slice(0, -1)).toEqual(inspect[0]!.RootFS.Layers);
    expect(config.config.Labels["io.ocipatch.base.digest"]).toBe(res.source.digest);

    // umoci reads the layout itself (no skopeo conversion in between) and dpkg is healthy in it
    const layout = join(dir, "layout");
    await run("mkdir", [layout]);
    await run("tar", ["-xf", file, "-C", layout]);
    await run("umoci", ["unpack", "--rootless", "--image", `${layout}:1-patched`, join(dir, "bundle")]);
    assertDpkgHealthy(await dpkgChecks(join(dir, "bundle", "rootfs")), "OCI archive of an engine image");

    // re-patching the OCI archive finds the previous ocipatch layer (labels and diffIDs survived)
    const file2 = join(dir, "again.tar");
    const again = await runCli(
      [
        "patch",
        "-i",
        `oci-archive:${file}:1-patched`,
        "-t",
        "2-patched",
        "--output-mode",
        "oci",
        "--output-path",
        file2,
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      env(),
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("previous ocipatch layer");
    const raw2 = JSON.parse(
      (await run("skopeo", ["inspect", "--raw", `oci-archive:${file2}:2-patched`])).stdout,
    ) as RawManifest;
    expect(raw2.layers).toHaveLength(img.layers + 1);
    expect(raw2.layers.slice(0, -1)).toEqual(raw.layers.slice(0, -1));
    expect(raw2.annotations?.["org.opencontainers.image.base.digest"]).toBe(res.source.digest);
  });

  it("--dest oci:DIR:TAG: OCI media types, and the VEX and SBOM referrers name the manifest skopeo finds", async () => {
    const dir = temp("engine-patch-layout");
    const layout = join(dir, "layout");
    const r = await runCli(
      ["patch", "-i", localRef, "--dest", `oci:${layout}:p`, "--db-dir", dbDir, "--skip-db-update"],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const inspected = JSON.parse((await run("skopeo", ["inspect", `oci:${layout}:p`])).stdout) as {
      Digest: string;
    };
    const digest = inspected.Digest;
    const raw = JSON.parse(
      (await run("skopeo", ["inspect", "--raw", `oci:${layout}:p`])).stdout,
    ) as RawManifest;
    expect(raw.mediaType).toBe(OCI_MANIFEST);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string; artifactType?: string }>;
    };
    const referrers = index.manifests.filter((m) => m.artifactType !== undefined);
    expect(referrers.map((m) => m.artifactType).sort()).toEqual([
      "application/vnd.cyclonedx+json",
      "application/vnd.in-toto+json",
    ]);
    for (const m of referrers) {
      const blob = JSON.parse(
        readFileSync(join(layout, "blobs", "sha256", m.digest.slice("sha256:".length)), "utf8"),
      ) as { subject: { digest: string; mediaType: string } };
      expect(blob.subject).toMatchObject({ digest, mediaType: OCI_MANIFEST });
    }
  });

  it("copy docker-daemon:REF oci:DIR:TAG converts to OCI media types (skopeo, umoci)", async () => {
    const dir = temp("engine-copy-oci");
    const layout = join(dir, "layout");
    const r = await runCli(["copy", `docker-daemon:${localRef}`, `oci:${layout}:v1`], env());
    expect(r.code, r.stderr).toBe(0);
    const raw = JSON.parse(
      (await run("skopeo", ["inspect", "--raw", `oci:${layout}:v1`])).stdout,
    ) as RawManifest;
    expect(raw.mediaType).toBe(OCI_MANIFEST);
    expect(raw.layers).toHaveLength(img.layers);
    await run("umoci", ["unpack", "--rootless", "--image", `${layout}:v1`, join(dir, "bundle")]);
    expect(existsSync(join(dir, "bundle", "rootfs", "var", "lib", "dpkg", "status"))).toBe(true);
  });

  it("--output-mode local extracts the patched root filesystem: umoci's tree of the same patch, dpkg healthy", async () => {
    const dir = temp("engine-patch-local");
    const root = join(dir, "root");
    const r = await runCli(
      [
        "patch",
        "-i",
        localRef,
        "--output-mode",
        "local",
        "--output-path",
        root,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--format",
        "json",
      ],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`Patched image successfully. Exported to: ${root}`);
    expect(readdirSync(dir)).toEqual(["root"]);
    const res = JSON.parse(r.stdout) as PatchJson;
    expect(res.status).toBe("patched");

    // the same patch as an OCI layout (the patch layer is reproducible), unpacked by umoci
    const layout = join(dir, "layout");
    const again = await runCli(
      ["patch", "-i", localRef, "--dest", `oci:${layout}:p`, "--db-dir", dbDir, "--skip-db-update"],
      env(),
    );
    expect(again.code, again.stderr).toBe(0);
    const { rootfs } = await unpackImage(`oci:${layout}:p`, join(dir, "umoci"));
    expect(diffRootfs(root, rootfs, [], { mtimes: true })).toEqual([]);

    assertDpkgHealthy(await dpkgChecks(root), "extracted patched root filesystem");
    const installed = await dpkgList(root);
    for (const x of res.platforms[0]!.packages) {
      expect(installed.get(x.name) ?? installed.get(`${x.name}:${x.architecture}`), x.name).toBe(x.to);
    }
  });

  it("--output-mode local refuses a non-empty directory before any work (one line, non-zero)", async () => {
    const dir = temp("engine-patch-local-used");
    const root = join(dir, "root");
    await run("mkdir", ["-p", join(root, "mine")]);
    const r = await runCli(
      ["patch", "-i", localRef, "--output-mode", "local", "--output-path", root, "--db-dir", dbDir],
      env(),
    );
    expect(r.code).toBe(10); // IO: the destination is not usable
    expect(r.stderr).not.toContain("Scanning image");
    expect(r.stderr.trim().split("\n"), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain(`${root} is not empty; refusing to extract the root filesystem into it`);
    expect(readdirSync(root)).toEqual(["mine"]);
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
