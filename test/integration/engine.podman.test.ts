/**
 * `ocipatch patch` against Podman's Docker-compatible API (`podman system service` on a private
 * socket and storage): the image only podman holds is read through the socket (bare reference
 * and `docker-daemon:`), and the patched image lands in podman's store. Oracles: `podman image
 * inspect`, and `podman save` of the patched image through the same dpkg checks as the other
 * engine tests. (Podman cannot start containers in this sandbox: runc may not set the rlimits
 * podman asks for, so the programs are not run here; dockerd's test runs them.)
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { type PodmanEngine, startPodmanService } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { assertDpkgHealthy, dpkgChecks, dpkgList, unpackImage } from "../harness/oracle.js";
import { runCli, TRACKER_SUBSET } from "../harness/patch-support.js";

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

interface PodmanInspect {
  RootFS: { Layers: string[] };
  Config: { Labels?: Record<string, string> };
}

describe("patch with Podman's image store (podman system service)", { timeout: 600_000 }, () => {
  let podman: PodmanEngine;
  let img: TestImage;
  let dbDir: string;
  const localRef = `local/nginx-pod-${process.pid}:1`;
  const env = () => ({ DOCKER_HOST: podman.host });

  async function inspect(ref: string): Promise<PodmanInspect> {
    return (JSON.parse((await podman.podman(["image", "inspect", ref])).stdout) as PodmanInspect[])[0]!;
  }

  beforeAll(async () => {
    dbDir = temp("podman-db");
    await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
    img = await ensureImage("nginx-bullseye");
    podman = await startPodmanService();
    const dir = temp("podman-load");
    await run("skopeo", ["copy", "-q", img.ociRef, `docker-archive:${join(dir, "a.tar")}:${localRef}`]);
    await podman.podman(["load", "-q", "-i", join(dir, "a.tar")]);
  }, 600_000);
  afterAll(async () => {
    await podman?.stop();
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("patch -i REF (bare, from podman's store) loads REF-patched into podman: inspect, save, dpkg checks", async () => {
    const r = await runCli(
      ["patch", "-i", localRef, "--db-dir", dbDir, "--skip-db-update", "--format", "json"],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const patched = `${localRef}-patched`;
    expect(r.stderr).toContain(`Patched image successfully. Loaded locally: ${patched}`);
    const res = JSON.parse(r.stdout) as PatchJson;
    expect(res.status).toBe("patched");

    const names = (await podman.podman(["images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout;
    expect(names.split("\n"), names).toContain(`docker.io/${patched}`);
    const before = await inspect(localRef);
    const after = await inspect(patched);
    expect(after.RootFS.Layers.slice(0, -1)).toEqual(before.RootFS.Layers);
    expect(after.RootFS.Layers).toHaveLength(img.layers + 1);
    expect(after.Config.Labels?.["io.ocipatch.layer.diffid"]).toBe(after.RootFS.Layers.at(-1));

    const dir = temp("podman-save");
    await podman.podman(["save", "--format", "docker-archive", "-o", join(dir, "p.tar"), patched]);
    const { rootfs } = await unpackImage(`docker-archive:${join(dir, "p.tar")}`, join(dir, "bundle"));
    assertDpkgHealthy(await dpkgChecks(rootfs), "patched image from podman's store");
    const installed = await dpkgList(rootfs);
    for (const x of res.platforms[0]!.packages) {
      expect(installed.get(x.name) ?? installed.get(`${x.name}:${x.architecture}`), x.name).toBe(x.to);
    }
  });

  it("patch -i docker-daemon:REF -t TAG loads under that tag; an image podman lacks is one line", async () => {
    const r = await runCli(
      ["patch", "-i", `docker-daemon:${localRef}`, "-t", "by-tag", "--db-dir", dbDir, "--skip-db-update"],
      env(),
    );
    expect(r.code, r.stderr).toBe(0);
    const want = localRef.replace(/:1$/, ":by-tag");
    expect(r.stderr).toContain(`Loaded locally: ${want}`);
    expect((await inspect(want)).RootFS.Layers).toHaveLength(img.layers + 1);

    const missing = await runCli(
      ["patch", "-i", "docker-daemon:local/not-in-podman:1", "--db-dir", dbDir, "--skip-db-update"],
      env(),
    );
    expect(missing.code).not.toBe(0);
    const errors = missing.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors, missing.stderr).toEqual([
      `[error] image local/not-in-podman:1 not found in the container engine at ${podman.host}`,
    ]);
  });
});
