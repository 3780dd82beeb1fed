import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../src/errors.js";
import { type Image, type ImageIndex, type Layer, mutateImage } from "../../src/image/index.js";
import { dockerArchiveSink, openDockerArchive } from "../../src/transport/docker-archive/index.js";
import { ociLayoutSink, openOciLayout } from "../../src/transport/oci-layout/index.js";
import { drain } from "../../src/util/streams.js";
import {
  buildFixtureLayout,
  cleanup,
  type FixtureLayout,
  leftovers,
  rawConfig,
  rawManifest,
  run,
  sha256Hex,
  skopeo,
  tempDir,
  treeListing,
  umociUnpack,
} from "../harness/archive-fixtures.js";
import { runCli } from "../harness/cli.js";

let root: string;
let fx: FixtureLayout;
/** skopeo-written archives: the amd64 image as example.com/ns/app:v1, the arm64 one as other:v2. */
let archA: string;
let archB: string;

beforeAll(() => {
  root = tempDir("docker-archive");
  fx = buildFixtureLayout(root);
  archA = join(root, "a.tar");
  archB = join(root, "b.tar");
  skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `docker-archive:${archA}:example.com/ns/app:v1`);
  skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `docker-archive:${archB}:other:v2`);
});
afterAll(() => cleanup(root));

async function ociImage(tag: string): Promise<Image> {
  const item = await openOciLayout(fx.dir, tag);
  if (item.kind !== "image") throw new Error("expected an image");
  return item;
}

function configDigestOf(transportRef: string): string {
  return `sha256:${sha256Hex(rawConfig(transportRef))}`;
}

/** Extract a tar into a new directory (GNU tar). */
function untar(file: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  run("tar", ["-xf", file, "-C", dir]);
  return dir;
}

function retar(dir: string, file: string): string {
  run("tar", ["--sort=name", "-C", dir, "-cf", file, "."]);
  return file;
}

async function expectLayersVerify(image: Image): Promise<void> {
  for (const l of await image.layers()) {
    await drain(await l.uncompressed());
    await drain(await l.compressed());
  }
}

describe("openDockerArchive reads what skopeo writes", () => {
  it("gets the config digest, diffIDs and layer digests skopeo reports", async () => {
    const image = await openDockerArchive(archA);
    const ref = `docker-archive:${archA}`;
    expect(image.manifest.config.digest).toBe(configDigestOf(ref));
    const sk = rawManifest(ref).doc as { layers: Array<{ digest: string; size: number }> };
    const layers = await image.layers();
    expect(layers.map((l) => l.digest)).toEqual(sk.layers.map((l) => l.digest));
    expect(layers.map((l) => l.size)).toEqual(sk.layers.map((l) => l.size));
    // the same diffIDs as the original image, and the data verifies against them
    const orig = await (await ociImage(fx.tag)).configFile();
    expect((await image.configFile()).rootfs.diff_ids).toEqual(orig.rootfs.diff_ids);
    expect(layers.map((l) => l.compression)).toEqual(["none", "none"]);
    await expectLayersVerify(image);
    // stable: the same archive yields the same synthesized manifest
    expect((await openDockerArchive(archA)).digest).toBe(image.digest);
  });

  it("selects by RepoTags, in any spelling of the reference", async () => {
    const tags = JSON.parse(run("tar", ["-xOf", archB, "manifest.json"]))[0].RepoTags;
    expect(tags).toEqual(["docker.io/library/other:v2"]); // how skopeo names it
    for (const r of ["other:v2", "docker.io/library/other:v2", "library/other:v2"]) {
      const b = await openDockerArchive(archB, r);
      expect(b.manifest.config.digest).toBe(configDigestOf(`docker-archive:${archB}`));
      expect(b.description).toBe(`docker-archive:${archB}:other:v2`);
    }
    const err = await openDockerArchive(archA, "example.com/ns/app:v2").catch((e: unknown) => e);
    expect((err as OcipatchError).code).toBe("NOT_FOUND");
    expect((err as OcipatchError).message).toBe(
      `example.com/ns/app:v2 not found in docker archive ${archA} (it holds: example.com/ns/app:v1)`,
    );
  });

  it("chooses among several images and lists them when none is named", async () => {
    const dir = join(root, "multi");
    untar(archA, dir);
    const b = untar(archB, join(root, "multi-b"));
    const manifest = [
      ...JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")),
      ...JSON.parse(readFileSync(join(b, "manifest.json"), "utf8")),
    ];
    cpSync(b, dir, { recursive: true, force: false, errorOnExist: false });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    const file = retar(dir, join(root, "multi.tar"));

    const err = await openDockerArchive(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("USAGE");
    expect((err as OcipatchError).message).toMatch(/holds 2 images .*example.com\/ns\/app:v1.*other:v2/);

    const arm = await openDockerArchive(file, "other:v2");
    expect(arm.manifest.config.digest).toBe(configDigestOf(`docker-archive:${file}:other:v2`));
    expect((await openDockerArchive(file, 1)).digest).toBe(arm.digest);
    const amd = await openDockerArchive(file, "example.com/ns/app:v1");
    expect(amd.manifest.config.digest).toBe(configDigestOf(`docker-archive:${file}:example.com/ns/app:v1`));
    await expectLayersVerify(arm);
    await expect(openDockerArchive(file, 2)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("reads gzip-compressed layers (sniffed), keeping the stored blob's digest", async () => {
    const image = await ociImage(fx.tag);
    const dir = join(root, "gz");
    mkdirSync(dir);
    writeFileSync(join(dir, "config.json"), await image.rawConfig());
    const names: string[] = [];
    for (const [i, l] of image.manifest.layers.entries()) {
      cpSync(join(fx.dir, "blobs/sha256", l.digest.slice(7)), join(dir, `layer${i}.tar.gz`));
      names.push(`layer${i}.tar.gz`);
    }
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify([{ Config: "config.json", RepoTags: ["gz:1"], Layers: names }]),
    );
    const file = retar(dir, join(root, "gz.tar"));

    const got = await openDockerArchive(file);
    const layers = await got.layers();
    expect(layers.map((l) => l.compression)).toEqual(["gzip", "gzip"]);
    // umoci's manifest knows the blobs' digests; skopeo knows the diffIDs
    expect(layers.map((l) => l.digest)).toEqual(image.manifest.layers.map((l) => l.digest));
    const sk = rawManifest(`docker-archive:${file}`).doc as { layers: Array<{ digest: string }> };
    expect(layers.map((l) => l.diffId)).toEqual(sk.layers.map((l) => l.digest));
    await expectLayersVerify(got);
  });

  it("reads zstd-compressed layers (sniffed)", async () => {
    const dir = untar(archA, join(root, "zst"));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const layers: string[] = manifest[0].Layers;
    manifest[0].Layers = layers.map((l) => {
      run("zstd", ["-q", "--rm", join(dir, l), "-o", join(dir, `${l}.zst`)]);
      return `${l}.zst`;
    });
    writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
    const file = retar(dir, join(root, "zst.tar"));
    const got = await openDockerArchive(file);
    const gotLayers = await got.layers();
    expect(gotLayers.map((l) => l.compression)).toEqual(["zstd", "zstd"]);
    expect(gotLayers.map((l) => l.digest)).toEqual(
      manifest[0].Layers.map((l: string) => `sha256:${run("sha256sum", [join(dir, l)]).slice(0, 64)}`),
    );
    expect(gotLayers.map((l) => l.diffId)).toEqual(
      (await (await ociImage(fx.tag)).configFile()).rootfs.diff_ids,
    );
    await expectLayersVerify(got);
  });

  it("reads archives of newer docker (an OCI layout inside) with their real manifest", async () => {
    const dir = join(root, "d25");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `oci:${dir}:v1`);
    const image = await ociImage(fx.tag);
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify([
        {
          Config: `blobs/sha256/${image.manifest.config.digest.slice(7)}`,
          RepoTags: ["d25:v1"],
          Layers: image.manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`),
        },
      ]),
    );
    const file = retar(dir, join(root, "d25.tar"));
    const got = await openDockerArchive(file, "d25:v1");
    expect(got.digest).toBe(image.digest);
    expect(got.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(got.manifest.config.digest).toBe(configDigestOf(`docker-archive:${file}`));
    await expectLayersVerify(got);
  });

  it("detects a tampered layer when it is read", async () => {
    const dir = untar(archA, join(root, "tampered"));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const layerFile = join(dir, manifest[0].Layers[0]);
    const bytes = readFileSync(layerFile);
    bytes[600] = (bytes[600]! + 1) % 256; // same size, different content
    writeFileSync(layerFile, bytes);
    const file = retar(dir, join(root, "tampered.tar"));
    const image = await openDockerArchive(file);
    const layer = (await image.layers())[0]!;
    await expect(drain(await layer.uncompressed())).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    // and nothing is written from it
    const out = join(root, "tampered-out");
    await expect(ociLayoutSink(out, "t").write(image)).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
    expect(existsSync(out)).toBe(false);
  });

  it("fails clearly on files that are not docker archives", async () => {
    const junk = join(root, "junk.tar");
    writeFileSync(junk, "this is not a tar file".repeat(100));
    await expect(openDockerArchive(junk)).rejects.toMatchObject({ code: "INVALID_FORMAT" });
    await expect(openDockerArchive(join(root, "nope.tar"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    const notDocker = retar(join(root, "l3"), join(root, "plain.tar"));
    await expect(openDockerArchive(notDocker)).rejects.toThrow(/not a docker archive \(no manifest.json\)/);
  });

  it("a gzipped archive: one line naming the file, saying to decompress it (CLI, exit of INVALID_FORMAT)", async () => {
    const gz = join(root, "a.tar.gz");
    writeFileSync(gz, execFileSync("gzip", ["-c", archA], { maxBuffer: 64 * 1024 * 1024 }));
    const r = await runCli(["inspect", `docker-archive:${gz}`]);
    expect(r.code).toBe(6);
    expect(r.stderr.trim()).toBe(`[error] ${gz} is not a tar archive (gzip-compressed; decompress it first)`);
    // an OCI archive is read by the same tar reader
    const o = await runCli(["inspect", `oci-archive:${gz}`]);
    expect(o.stderr.trim()).toBe(`[error] ${gz} is not a tar archive (gzip-compressed; decompress it first)`);
  });
});

/** The image with one layer whose stream fails after some bytes. */
function withFailingLayer(image: Image, which: number): Image {
  return {
    kind: "image",
    description: image.description,
    mediaType: image.mediaType,
    digest: image.digest,
    rawManifest: image.rawManifest,
    manifest: image.manifest,
    rawConfig: (o) => image.rawConfig(o),
    configFile: (o) => image.configFile(o),
    layers: async (o) =>
      (await image.layers(o)).map((l, i): Layer => {
        if (i !== which) return l;
        const failing = async (): Promise<Readable> => {
          const s = new PassThrough();
          s.write(Buffer.alloc(1024));
          setTimeout(() => s.destroy(new Error("simulated read failure")), 20);
          return s;
        };
        return { ...l, compressed: failing, uncompressed: failing } as Layer;
      }),
  };
}

describe("dockerArchiveSink", () => {
  it("writes an archive skopeo accepts, with the same config digest and diffIDs", async () => {
    const image = await ociImage(fx.tag);
    const file = join(root, "ours.tar");
    const res = await dockerArchiveSink(file, "example.com/ns/app:v1").write(image);
    const ref = `docker-archive:${file}`;
    expect(configDigestOf(ref)).toBe(image.manifest.config.digest);
    const sk = rawManifest(ref).doc as { layers: Array<{ digest: string }> };
    const diffIds = (await image.configFile()).rootfs.diff_ids;
    expect(sk.layers.map((l) => l.digest)).toEqual(diffIds);
    const inspected = JSON.parse(skopeo("inspect", ref)) as { Layers: string[]; Architecture: string };
    expect(inspected.Layers).toEqual(diffIds);
    expect(inspected.Architecture).toBe("amd64");

    // the docker save layout: manifest.json, <config>.json, <diffID>.tar, legacy dirs, repositories
    const dir = untar(file, join(root, "ours-x"));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest).toEqual([
      {
        Config: `${image.manifest.config.digest.slice(7)}.json`,
        RepoTags: ["example.com/ns/app:v1"],
        Layers: diffIds.map((d) => `${d.slice(7)}.tar`),
      },
    ]);
    const repos = JSON.parse(readFileSync(join(dir, "repositories"), "utf8"));
    const topId = repos["example.com/ns/app"].v1 as string;
    expect(
      readFileSync(join(dir, topId, "layer.tar")).equals(
        readFileSync(join(dir, `${diffIds[1]!.slice(7)}.tar`)),
      ),
    ).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, topId, "json"), "utf8")).parent).toMatch(/^[a-f0-9]{64}$/);

    // skopeo copies it, by name too, and the unpacked rootfs is the original's
    const out = join(root, "ours-oci");
    skopeo("copy", "-q", `docker-archive:${file}:example.com/ns/app:v1`, `oci:${out}:t`);
    expect(treeListing(umociUnpack(out, "t", join(root, "ours-bundle")))).toEqual(
      treeListing(umociUnpack(fx.dir, fx.tag, join(root, "orig-bundle"))),
    );

    // reading it back gives the digest the write reported
    const back = await openDockerArchive(file, "example.com/ns/app:v1");
    expect(back.digest).toBe(res.digest);
    expect(res.location).toBe(`docker-archive:${file}:example.com/ns/app:v1`);
    expect(leftovers(root)).toEqual([]);
  });

  it("is deterministic and writes without a name too", async () => {
    const image = await ociImage(fx.armTag);
    const f1 = join(root, "det1.tar");
    const f2 = join(root, "det2.tar");
    await dockerArchiveSink(f1).write(image);
    await dockerArchiveSink(f2).write(image);
    expect(readFileSync(f1).equals(readFileSync(f2))).toBe(true);
    const names = run("tar", ["-tf", f1]).split("\n");
    expect(names).toContain("manifest.json");
    expect(names).not.toContain("repositories");
    expect(configDigestOf(`docker-archive:${f1}`)).toBe(image.manifest.config.digest);
  });

  it("round-trips docker-archive → ocipatch → docker-archive and → OCI (converted) for umoci", async () => {
    const image = await openDockerArchive(archA);
    const again = join(root, "again.tar");
    await dockerArchiveSink(again, "example.com/ns/app:v1").write(image);
    expect(configDigestOf(`docker-archive:${again}`)).toBe(image.manifest.config.digest);
    expect((await openDockerArchive(again)).digest).toBe(image.digest);

    const oci = await mutateImage(image, { toOci: true });
    const out = join(root, "from-archive-oci");
    await ociLayoutSink(out, "t").write(oci);
    expect(treeListing(umociUnpack(out, "t", join(root, "from-archive-bundle")))).toEqual(
      treeListing(umociUnpack(fx.dir, fx.tag, join(root, "orig-bundle-2"))),
    );
  });

  it("refuses an index (a docker archive holds one image) and digest references", async () => {
    const index = (await openOciLayout(fx.dir, fx.indexTag)) as ImageIndex;
    const file = join(root, "index.tar");
    const err = await dockerArchiveSink(file)
      .write(index)
      .catch((e: unknown) => e);
    expect((err as OcipatchError).code).toBe("UNSUPPORTED");
    expect((err as OcipatchError).message).toMatch(/choose a platform/);
    expect(existsSync(file)).toBe(false);
    const image = await ociImage(fx.tag);
    await expect(dockerArchiveSink(file, `app@sha256:${"a".repeat(64)}`).write(image)).rejects.toMatchObject({
      code: "REFERENCE_INVALID",
    });
    expect(existsSync(file)).toBe(false);
  });

  it("a failing layer leaves no file, and an existing file untouched", async () => {
    const image = withFailingLayer(await ociImage(fx.tag), 1);
    const file = join(root, "fail.tar");
    const err = await dockerArchiveSink(file, "x:y")
      .write(image)
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/simulated read failure/);
    expect(existsSync(file)).toBe(false);
    expect(leftovers(root)).toEqual([]);

    const existing = join(root, "existing.tar");
    cpSync(archB, existing);
    const before = readFileSync(existing);
    await expect(dockerArchiveSink(existing).write(image)).rejects.toThrow(/simulated read failure/);
    expect(readFileSync(existing).equals(before)).toBe(true);
    expect(leftovers(root)).toEqual([]);
    expect(readdirSync(root).filter((n) => n.startsWith(".existing"))).toEqual([]);
  });

  it("a symlink to a file stays a symlink; the archive is written where it points (skopeo alike)", async () => {
    const image = await ociImage(fx.tag);
    for (const who of ["skopeo", "ocipatch"] as const) {
      const real = join(root, `link-${who}.tar`);
      const link = join(root, `link-${who}`);
      writeFileSync(real, ""); // skopeo writes into an empty file only (it refuses to modify an archive)
      symlinkSync(real, link);
      if (who === "skopeo") skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `docker-archive:${link}:x:y`);
      else await dockerArchiveSink(link, "x:y").write(image);
      expect(lstatSync(link).isSymbolicLink(), who).toBe(true);
      expect(configDigestOf(`docker-archive:${real}`)).toBe(image.manifest.config.digest);
    }
    expect(leftovers(root)).toEqual([]);
  });

  it("a FILE that is a mount point (a bind-mounted file) is written in place; a failure there leaves it empty", async () => {
    expect(process.getuid?.(), "mounting needs root").toBe(0);
    const image = await ociImage(fx.tag);
    const fs = join(root, "bound-fs");
    mkdirSync(fs);
    const file = join(root, "bound.tar");
    writeFileSync(file, "");
    for (const size of ["64m", "8k"]) {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", fs]);
      const backing = join(fs, "backing.tar");
      writeFileSync(backing, "an older archive");
      execFileSync("mount", ["--bind", backing, file]);
      try {
        const err = await dockerArchiveSink(file, "x:y")
          .write(image)
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        if (size === "64m") {
          expect(err).toBeUndefined();
          expect(configDigestOf(`docker-archive:${file}`)).toBe(image.manifest.config.digest);
          expect(readFileSync(backing).equals(readFileSync(file))).toBe(true);
        } else {
          // too small for the archive: the write fails in the middle
          expect((err as OcipatchError).code).toBe("IO");
          expect((err as Error).message).toContain("ENOSPC");
          expect(readFileSync(backing).length).toBe(0);
        }
      } finally {
        execFileSync("umount", [file]);
        execFileSync("umount", [fs]);
      }
      expect(leftovers(root)).toEqual([]);
    }
  });

  it("a failing write removes the parent directories it created (as oci: and oci-archive: do)", async () => {
    const image = withFailingLayer(await ociImage(fx.tag), 1);
    const file = join(root, "new-parent", "a", "b", "x.tar");
    await expect(dockerArchiveSink(file, "x:y").write(image)).rejects.toThrow(/simulated read failure/);
    expect(existsSync(join(root, "new-parent"))).toBe(false);
    // a parent that existed before stays
    mkdirSync(join(root, "old-parent"));
    await expect(dockerArchiveSink(join(root, "old-parent", "c", "x.tar")).write(image)).rejects.toThrow(
      /simulated read failure/,
    );
    expect(readdirSync(join(root, "old-parent"))).toEqual([]);
    // and a successful write keeps them
    const ok = join(root, "new-parent-ok", "d", "x.tar");
    await dockerArchiveSink(ok).write(await ociImage(fx.armTag));
    expect(configDigestOf(`docker-archive:${ok}`)).toBe((await ociImage(fx.armTag)).manifest.config.digest);
  });
});
