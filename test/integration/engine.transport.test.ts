/**
 * The local engine store as a transport (`docker-daemon:REF`), bare references resolved
 * from it, and `oci-archive:FILE[:TAG]`, against a real dockerd on a private socket (and
 * Podman's Docker-compatible service for the read path). The docker CLI and skopeo are
 * the oracles.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, request } from "node:http";
import { join } from "node:path";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Image, Layer } from "../../src/image/image.js";
import { encodeJson, parseConfigFile } from "../../src/image/manifest.js";
import type { WriteResult } from "../../src/image/sink.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { sha256 } from "../../src/util/digest.js";
import { updateDatabase } from "../../src/vulndb/index.js";
import { BIN, ensureBuilt, runBin } from "../harness/cli.js";
import { type PodmanEngine, startDockerd, startPodmanService, type TestEngine } from "../harness/dockerd.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { TRACKER_SUBSET } from "../harness/patch-support.js";

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

/** `docker load` a harness image under `name` (skopeo writes the docker archive). */
async function loadInto(engine: TestEngine, img: TestImage, name: string): Promise<void> {
  const dir = temp("engine-load");
  const file = join(dir, "img.tar");
  await run("skopeo", ["copy", "-q", img.ociRef, `docker-archive:${file}:${name}`]);
  await engine.docker(["load", "-q", "-i", file]);
}

/** A vulnerability database of this file's own (the real tracker subset). */
async function ownDb(): Promise<string> {
  const dbDir = temp("engine-db");
  await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
  return dbDir;
}

async function imageId(engine: TestEngine, name: string): Promise<string> {
  return (await engine.docker(["image", "inspect", "--format", "{{.Id}}", name])).stdout.trim();
}

async function diffIds(engine: TestEngine, name: string): Promise<string[]> {
  const out = await engine.docker(["image", "inspect", "--format", "{{json .RootFS.Layers}}", name]);
  return JSON.parse(out.stdout) as string[];
}

async function tags(engine: TestEngine): Promise<string[]> {
  const out = await engine.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
  return out.stdout.split("\n").filter((l) => l !== "");
}

describe("docker-daemon: transport (real dockerd)", { timeout: 300_000 }, () => {
  let engine: TestEngine;
  let img: TestImage;
  beforeAll(async () => {
    await ensureBuilt();
    img = await ensureImage("debian-bookworm");
    engine = await startDockerd();
    await loadInto(engine, img, "local/bookworm:1");
  }, 600_000);
  afterAll(async () => {
    await engine?.stop();
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("reads an image of the store: the config and layers the engine has", async () => {
    const image = await openImage("docker-daemon:local/bookworm:1", { env: engine.env });
    expect(image.description).toBe("docker-daemon:local/bookworm:1");
    expect(image.manifest.config.digest).toBe(await imageId(engine, "local/bookworm:1"));
    const layers = await image.layers();
    expect(layers.map((l) => l.diffId)).toEqual(await diffIds(engine, "local/bookworm:1"));
    // every byte is read and its digest checked by the image model
    for (const l of layers) {
      const h = createHash("sha256");
      for await (const c of await l.uncompressed()) h.update(c as Buffer);
      expect(`sha256:${h.digest("hex")}`).toBe(l.diffId);
    }
  });

  it("writes (docker load, streamed): docker images lists it, docker save has the same layers", async () => {
    const src = await openImage(img.ociRef);
    const r = await openSink("docker-daemon:local/written:2", { env: engine.env }).write(src);
    expect(r.location).toContain("docker-daemon:local/written:2");
    expect(await tags(engine)).toContain("local/written:2");
    expect(await imageId(engine, "local/written:2")).toBe(src.manifest.config.digest);
    const dir = temp("engine-save");
    await engine.docker(["save", "-o", join(dir, "s.tar"), "local/written:2"]);
    const back = await openImage(`docker-archive:${join(dir, "s.tar")}`);
    expect((await back.configFile()).rootfs.diff_ids).toEqual((await src.configFile()).rootfs.diff_ids);
    // round trip: read it back through the engine API
    const again = await openImage("docker-daemon:local/written:2", { env: engine.env });
    expect(again.manifest.config.digest).toBe(src.manifest.config.digest);
  });

  it("writes an image whose blobs are addressed by sha512: each named by its own algorithm in the load tar; docker stores it", async () => {
    const dir = temp("engine-sha512");
    const image = await openImage(await sha512Image(dir));
    const layer = (await image.layers())[0]!;
    expect(layer.digest).toMatch(/^sha512:/);
    const recorder = await loadRecorder(engine, dir);
    let written: WriteResult;
    try {
      written = await openSink("docker-daemon:local/s512:1", {
        env: { ...engine.env, DOCKER_HOST: recorder.host },
      }).write(image);
    } finally {
      await recorder.close();
    }
    expect(recorder.loads).toHaveLength(1);
    expect(recorder.loads[0]).toContain(`blobs/sha512/${layer.digest.slice("sha512:".length)}`);
    expect(recorder.loads[0]!.filter((n) => n.startsWith("blobs/sha256/"))).toEqual([]);
    // the image ID said is the engine's: the sha256 of the config, whatever the manifest's algorithm
    expect(written.location).toBe(
      `docker-daemon:local/s512:1 (image ID ${await imageId(engine, "local/s512:1")})`,
    );
    // the engine read that layer (it had none like it): its diffID and content are the image's
    expect(await diffIds(engine, "local/s512:1")).toEqual((await image.configFile()).rootfs.diff_ids);
    await engine.docker(["save", "-o", join(dir, "saved.tar"), "local/s512:1"]);
    const saved = await openImage(`docker-archive:${join(dir, "saved.tar")}`);
    for (const l of await saved.layers()) for await (const _ of await l.uncompressed()) void _; // diffID checked
  });

  it("a bare reference is read from the store when the engine has it, else from the registry", async () => {
    const ins = await runBin(["inspect", "local/bookworm:1", "--format", "json"], engine.env);
    expect(ins.code, ins.stderr).toBe(0);
    expect(JSON.parse(ins.stdout).name).toBe("docker-daemon:local/bookworm:1");
    // docker:// forces the registry (there is none on this name: a network/registry error, not the store)
    const forced = await runBin(["inspect", "docker://127.0.0.1:9/local/bookworm:1"], engine.env);
    expect(forced.code).toBe(5);
    expect(forced.stderr).not.toContain("docker-daemon");
  });

  it("scan, sbom and copy accept docker-daemon: and bare references", async () => {
    const sbom = await runBin(["sbom", "-i", "local/bookworm:1", "--format", "json"], engine.env);
    expect(sbom.code, sbom.stderr).toBe(0);
    expect(sbom.stdout).toContain("dpkg");
    const dir = temp("engine-copy");
    const file = join(dir, "c.tar");
    const cp = await runBin(
      ["copy", "docker-daemon:local/bookworm:1", `docker-archive:${file}:x/y:z`],
      engine.env,
    );
    expect(cp.code, cp.stderr).toBe(0);
    const sk = JSON.parse((await run("skopeo", ["inspect", `docker-archive:${file}`])).stdout) as {
      Layers: string[];
    };
    expect(sk.Layers.length).toBe(img.layers);
    const scan = await runBin(
      ["scan", "-i", "local/bookworm:1", "--db-dir", await ownDb(), "--skip-db-update", "--format", "json"],
      engine.env,
    );
    expect(scan.code, scan.stderr).toBe(0);
    const scanned = JSON.parse(scan.stdout) as { target: { digest: string }; packages: number };
    expect(scanned.packages).toBeGreaterThan(50);
    expect(scanned.target.digest).toBe(
      (await openImage("docker-daemon:local/bookworm:1", { env: engine.env })).digest,
    );
  });

  it("an image the engine lacks: one line, exit 3", async () => {
    const r = await runBin(["inspect", "docker-daemon:local/absent:9"], engine.env);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/local\/absent:9 not found in the container engine at unix:\/\//);
  });

  it("a load the engine rejects: one line, nothing tagged", async () => {
    const src = await openImage(img.ociRef);
    const bad = await corruptDiffId(src);
    await expect(openSink("docker-daemon:local/rejected:1", { env: engine.env }).write(bad)).rejects.toThrow(
      /refused it|answered HTTP/,
    );
    expect(await tags(engine)).not.toContain("local/rejected:1");
    // through the CLI: an index cannot be loaded (one line), nothing tagged
    const multi = await ensureImage("multiarch-bookworm");
    const r = await runBin(["copy", multi.ociRef, "docker-daemon:local/multi:1"], engine.env);
    expect(r.code).toBe(9);
    expect(r.stderr.split("\n").filter((l) => l.startsWith("[error]"))).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot load an image index/);
    expect(await tags(engine)).not.toContain("local/multi:1");
  });

  it("a full disk while the export is saved: an IO error naming the temporary directory, exit 10", async () => {
    // a 1 MiB tmpfs as TMPDIR: the ~80 MB export cannot be saved there
    const tmp = temp("engine-full-tmp");
    await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", tmp]);
    try {
      const r = await runBin(["inspect", "docker-daemon:local/bookworm:1"], { ...engine.env, TMPDIR: tmp });
      expect(r.code, r.stderr).toBe(10);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`cannot save the image export to a temporary file in ${tmp}: ENOSPC`);
      expect(r.stderr).not.toMatch(/cannot talk to the container engine/);
      expect(readdirSync(tmp)).toEqual([]); // nothing left there
    } finally {
      await run("umount", [tmp]);
    }
  });

  it("no engine / access denied: one line, exit 5 / 4", async () => {
    const none = await runBin(["inspect", "docker-daemon:x:1"], {
      ...process.env,
      DOCKER_HOST: "unix:///tmp/ocipatch-no-such-engine.sock",
    });
    expect(none.code).toBe(5);
    expect(none.stderr.trim().split("\n")).toHaveLength(1);
    expect(none.stderr).toContain(
      "no container engine is running at unix:///tmp/ocipatch-no-such-engine.sock",
    );
    // a socket this user may not open (run as nobody through setpriv)
    const denied = await run(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        BIN,
        "inspect",
        "docker-daemon:x:1",
      ],
      { env: { ...engine.env, HOME: "/tmp" }, okCodes: [0, 1, 2, 4] },
    );
    expect(denied.code).toBe(4);
    expect(denied.stderr.trim().split("\n")).toHaveLength(1);
    expect(denied.stderr).toMatch(/permission denied on the container engine socket/);
  });
});

/**
 * A new single-layer image (its layer holds a random file, so no engine has it yet) in an OCI
 * layout, built with umoci, then stored again with its layer, config and manifest addressed by
 * sha512 (image-spec's other registered algorithm). Returns "oci:DIR:s512".
 */
async function sha512Image(dir: string): Promise<string> {
  const tree = join(dir, "tree");
  mkdirSync(tree);
  writeFileSync(join(tree, "marker"), randomBytes(16).toString("hex"));
  const layerTar = join(dir, "layer.tar");
  await run("tar", ["--numeric-owner", "-C", tree, "-cf", layerTar, "."]);
  const layout = join(dir, "layout");
  await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", `${layout}:empty`]);
  await run("umoci", ["raw", "add-layer", "--image", `${layout}:empty`, "--tag", "s256", layerTar]);
  const blob = (digest: string) => readFileSync(join(layout, "blobs", ...digest.split(":")));
  const put512 = (bytes: Buffer): string => {
    const hex = createHash("sha512").update(bytes).digest("hex");
    mkdirSync(join(layout, "blobs", "sha512"), { recursive: true });
    writeFileSync(join(layout, "blobs", "sha512", hex), bytes);
    return `sha512:${hex}`;
  };
  type Desc = { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: Desc[] };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === "s256")!;
  const manifest = JSON.parse(blob(entry.digest).toString("utf8")) as { config: Desc; layers: Desc[] };
  for (const l of manifest.layers) l.digest = put512(blob(l.digest));
  manifest.config.digest = put512(blob(manifest.config.digest));
  const raw = Buffer.from(JSON.stringify(manifest));
  index.manifests.push({
    mediaType: entry.mediaType,
    digest: put512(raw),
    size: raw.length,
    annotations: { "org.opencontainers.image.ref.name": "s512" },
  });
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
  return `oci:${layout}:s512`;
}

/** A unix-socket proxy in front of the engine keeping the entry names of each image load's tar. */
async function loadRecorder(
  engine: TestEngine,
  dir: string,
): Promise<{ host: string; loads: string[][]; close: () => Promise<void> }> {
  const socketPath = join(dir, "proxy.sock");
  const loads: string[][] = [];
  const server = createServer((req, res) => {
    const up = request(
      { socketPath: engine.socketPath, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    if (/\/images\/load\b/.test(req.url ?? "")) {
      const names: string[] = [];
      loads.push(names);
      const extract = tar.extract();
      extract.on("entry", (header, stream, next) => {
        names.push(header.name);
        stream.on("end", next);
        stream.resume();
      });
      extract.on("error", () => {});
      req.pipe(extract);
    }
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  return {
    host: `unix://${socketPath}`,
    loads,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * The image with a config claiming a top-layer diffID no layer has (a layer the engine
 * does not hold yet, so it must read and check it): the engine must refuse the load.
 */
async function corruptDiffId(src: Image): Promise<Image> {
  const layers = await src.layers();
  const cfg = JSON.parse((await src.rawConfig()).toString("utf8")) as { rootfs: { diff_ids: string[] } };
  const bogus =
    `sha256:${createHash("sha256").update(`bogus-${Date.now()}`).digest("hex")}` as Layer["diffId"];
  cfg.rootfs.diff_ids[cfg.rootfs.diff_ids.length - 1] = bogus;
  const rawConfig = encodeJson(cfg);
  const configDigest = sha256(rawConfig);
  const top = layers.at(-1)!;
  const fake: Layer = {
    digest: top.digest,
    size: top.size,
    mediaType: top.mediaType,
    compression: top.compression,
    descriptor: top.descriptor,
    diffId: bogus,
    compressed: (o) => top.compressed(o),
    uncompressed: (o) => top.uncompressed(o),
  };
  return {
    kind: "image",
    description: "tampered image",
    mediaType: src.mediaType,
    digest: src.digest,
    rawManifest: src.rawManifest,
    manifest: {
      ...src.manifest,
      config: { ...src.manifest.config, digest: configDigest, size: rawConfig.length },
    },
    rawConfig: async () => rawConfig,
    configFile: async () => parseConfigFile(rawConfig, "tampered config"),
    layers: async () => [...layers.slice(0, -1), fake],
  };
}

describe("docker-daemon: through Podman's Docker-compatible socket", { timeout: 300_000 }, () => {
  let podman: PodmanEngine;
  beforeAll(async () => {
    await ensureBuilt();
    podman = await startPodmanService();
  }, 300_000);
  afterAll(async () => {
    await podman?.stop();
  });

  it("reads an image podman holds", async () => {
    const img = await ensureImage("debian-bookworm");
    const dir = temp("podman-load");
    // podman's own CLI loads it into the same storage the service uses
    const file = join(dir, "img.tar");
    await run("skopeo", ["copy", "-q", img.ociRef, `docker-archive:${file}:local/pod:1`]);
    await podman.docker(["load", "-q", "-i", file]);
    const image = await openImage("docker-daemon:local/pod:1", { env: podman.env });
    const src = await openImage(img.ociRef);
    expect((await image.configFile()).rootfs.diff_ids).toEqual((await src.configFile()).rootfs.diff_ids);
    const r = await runBin(["inspect", "local/pod:1", "--format", "json"], podman.env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).name).toBe("docker-daemon:local/pod:1");
  });

  it("loads an image whose blobs are addressed by sha512 (named blobs/sha512/ in the load tar), saying podman's image ID", async () => {
    const dir = temp("podman-sha512");
    const image = await openImage(await sha512Image(dir));
    const written = await openSink("docker-daemon:local/s512:p", { env: podman.env }).write(image);
    const out = await podman.podman([
      "image",
      "inspect",
      "--format",
      "{{json .RootFS.Layers}}",
      "local/s512:p",
    ]);
    expect(JSON.parse(out.stdout)).toEqual((await image.configFile()).rootfs.diff_ids);
    const id = await podman.podman(["image", "inspect", "--format", "{{.Id}}", "local/s512:p"]);
    expect(written.location).toContain(`(image ID sha256:${id.stdout.trim()})`);
  });
});

describe("oci-archive: transport (skopeo as the oracle)", { timeout: 300_000 }, () => {
  it("writes an archive skopeo reads, and reads one skopeo wrote", async () => {
    await ensureBuilt();
    const img = await ensureImage("debian-bookworm");
    const dir = temp("oci-archive");
    const ours = join(dir, "ours.tar");
    const cp = await runBin(["copy", img.ociRef, `oci-archive:${ours}:v1`]);
    expect(cp.code, cp.stderr).toBe(0);
    const sk = JSON.parse((await run("skopeo", ["inspect", `oci-archive:${ours}:v1`])).stdout) as {
      Digest: string;
    };
    expect(sk.Digest).toBe(img.digest);
    expect(readdirSync(dir)).toEqual(["ours.tar"]); // nothing left beside it
    const theirs = join(dir, "theirs.tar");
    await run("skopeo", ["copy", "-q", img.ociRef, `oci-archive:${theirs}:t2`]);
    const back = await openImage(`oci-archive:${theirs}:t2`);
    expect(back.digest).toBe(img.digest);
    const layers = await back.layers();
    for await (const _ of await layers[0]!.compressed()) {
      // read every byte: the digest is checked at the end
    }
    expect(existsSync(theirs)).toBe(true);
  });
});
