import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../src/errors.js";
import type { Image, ImageIndex, Layer, OpenOptions } from "../../src/image/index.js";
import { ociArchiveSink } from "../../src/transport/oci-archive/index.js";
import { ociLayoutSink, openOciLayout } from "../../src/transport/oci-layout/index.js";
import {
  addSha512Image,
  buildFixtureLayout,
  cleanup,
  type FixtureLayout,
  leftovers,
  rawConfig,
  rawManifest,
  sha512Hex,
  skopeo,
  tempDir,
  treeListing,
  umociUnpack,
} from "../harness/archive-fixtures.js";

let root: string;
let fx: FixtureLayout;

beforeAll(() => {
  root = tempDir("oci-layout");
  fx = buildFixtureLayout(root);
});
afterAll(() => cleanup(root));

async function openImage(dir: string, tag: string): Promise<Image> {
  const item = await openOciLayout(dir, tag);
  if (item.kind !== "image") throw new Error("expected an image");
  return item;
}

/** The image with the streams of its layers replaced (`undefined`: keep the layer). */
function withLayerStreams(
  image: Image,
  replace: (index: number) => ((opts?: OpenOptions) => Promise<Readable>) | undefined,
): Image {
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
        const open = replace(i);
        return open ? ({ ...l, compressed: open, uncompressed: open } as Layer) : l;
      }),
  };
}

/** The image with one layer whose blob stream fails after some bytes. */
function withFailingLayer(image: Image, which: number): Image {
  return withLayerStreams(image, (i) =>
    i !== which
      ? undefined
      : async () => {
          const s = new PassThrough();
          s.write(Buffer.alloc(100, 1));
          setTimeout(() => s.destroy(new Error("simulated network reset")), 20);
          return s;
        },
  );
}

function indexJson(dir: string): Buffer {
  return readFileSync(join(dir, "index.json"));
}

describe("OCI layout reader against umoci/skopeo", () => {
  it("reads the umoci-built image with the digests skopeo reports", async () => {
    const image = await openImage(fx.dir, fx.tag);
    const sk = rawManifest(`oci:${fx.dir}:${fx.tag}`);
    expect(image.digest).toBe(sk.digest);
    const cfg = await image.rawConfig();
    expect(cfg.equals(rawConfig(`oci:${fx.dir}:${fx.tag}`))).toBe(true);
    const layers = await image.layers();
    expect(layers.map((l) => l.digest)).toEqual(
      (sk.doc["layers"] as Array<{ digest: string }>).map((l) => l.digest),
    );
  });

  it("reads a layout skopeo wrote", async () => {
    const out = join(root, "sk-written");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `oci:${out}:copied`);
    const image = await openImage(out, "copied");
    expect(image.digest).toBe(rawManifest(`oci:${fx.dir}:${fx.tag}`).digest);
    expect((await image.configFile()).rootfs.diff_ids).toHaveLength(2);
  });
});

describe("ociLayoutSink", () => {
  it("writes an image that skopeo and umoci accept, keeping the manifest digest", async () => {
    const image = await openImage(fx.dir, fx.tag);
    const out = join(root, "written");
    const events: string[] = [];
    const progress = {
      blobStart: (d: { digest: string }, action: string) => events.push(`start ${action} ${d.digest}`),
      blobDone: (d: { digest: string }, action: string) => events.push(`done ${action} ${d.digest}`),
    };
    const res = await ociLayoutSink(out, "v1").write(image, { progress });
    const blobs = [image.manifest.config.digest, ...image.manifest.layers.map((l) => l.digest), image.digest];
    expect(events.filter((e) => e.startsWith("done write")).sort()).toEqual(
      blobs.map((d) => `done write ${d}`).sort(),
    );
    expect(res.digest).toBe(image.digest);
    expect(res.stats.blobsUploaded).toBe(4); // config, 2 layers, manifest
    expect(res.location).toBe(`oci:${out}:v1`);

    const sk = rawManifest(`oci:${out}:v1`);
    expect(sk.bytes.equals(image.rawManifest)).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "oci-layout"), "utf8"))).toEqual({
      imageLayoutVersion: "1.0.0",
    });

    // skopeo copies it on; umoci unpacks it to the same rootfs as the original
    const other = join(root, "written-copied");
    skopeo("copy", "-q", `oci:${out}:v1`, `oci:${other}:x`);
    expect(rawManifest(`oci:${other}:x`).digest).toBe(image.digest);
    const original = treeListing(umociUnpack(fx.dir, fx.tag, join(root, "bundle-orig")));
    const ours = treeListing(umociUnpack(out, "v1", join(root, "bundle-ours")));
    expect(ours).toEqual(original);
    // the fixture really exercises whiteouts, symlinks and hard links
    expect(original.some((l) => l.startsWith("etc/gone"))).toBe(false);
    expect(original).toContain("etc/link symlink 0:0 -> hello");
    expect(original.some((l) => l.includes("link=etc/hardlink") || l.includes("link=etc/hello"))).toBe(true);
    expect(leftovers(root)).toEqual([]);
  });

  it("writes index.json the way skopeo does for the same sequence of copies", async () => {
    const a = `oci:${fx.dir}:${fx.tag}`;
    const b = `oci:${fx.dir}:${fx.armTag}`;
    const sk = join(root, "seq-skopeo");
    const ours = join(root, "seq-ours");
    const imgA = await openImage(fx.dir, fx.tag);
    const imgB = await openImage(fx.dir, fx.armTag);
    const steps: Array<[string, Image, string | undefined]> = [
      [a, imgA, "t"],
      [b, imgB, "t"], // retags: A stays listed without a name
      [a, imgA, undefined], // A already listed untagged: not listed twice
      [a, imgA, "t2"], // the untagged entry of A gets the name
      [b, imgB, "t"], // same image, same tag
    ];
    for (const [src, img, tag] of steps) {
      skopeo("copy", "-q", src, `oci:${sk}${tag ? `:${tag}` : ""}`);
      await ociLayoutSink(ours, tag).write(img);
      expect(JSON.parse(indexJson(ours).toString())).toEqual(JSON.parse(indexJson(sk).toString()));
    }
    expect(readdirSync(join(ours, "blobs/sha256")).sort()).toEqual(
      readdirSync(join(sk, "blobs/sha256")).sort(),
    );
  });

  it("skips blobs an existing layout already has", async () => {
    const image = await openImage(fx.dir, fx.tag);
    const out = join(root, "skip");
    await ociLayoutSink(out, "a").write(image);
    const again = await ociLayoutSink(out, "b").write(image);
    expect(again.stats.blobsSkipped).toBe(4);
    expect(again.stats.blobsUploaded).toBe(0);
    expect(rawManifest(`oci:${out}:b`).digest).toBe(image.digest);
  });

  it("writes an index with two platforms (children and blobs) that skopeo reads", async () => {
    const index = (await openOciLayout(fx.dir, fx.indexTag)) as ImageIndex;
    expect(index.kind).toBe("index");
    const out = join(root, "index-out");
    const res = await ociLayoutSink(out, "multi").write(index);
    expect(res.digest).toBe(index.digest);

    const sk = rawManifest(`oci:${out}:multi`);
    expect(sk.bytes.equals(index.rawManifest)).toBe(true);
    for (const [arch, tag] of [
      ["amd64", fx.tag],
      ["arm64", fx.armTag],
    ] as const) {
      const inspected = JSON.parse(skopeo("inspect", "--override-arch", arch, `oci:${out}:multi`)) as {
        Architecture: string;
        Layers: string[];
      };
      expect(inspected.Architecture).toBe(arch);
      const want = rawManifest(`oci:${fx.dir}:${tag}`).doc["layers"] as Array<{ digest: string }>;
      expect(inspected.Layers).toEqual(want.map((l) => l.digest));
    }
    // like `skopeo copy --all`: index.json lists only the index
    const skAll = join(root, "index-skopeo");
    skopeo("copy", "-q", "--all", `oci:${fx.dir}:${fx.indexTag}`, `oci:${skAll}:multi`);
    expect(JSON.parse(indexJson(out).toString())).toEqual(JSON.parse(indexJson(skAll).toString()));
    // and skopeo can copy every platform out of it
    skopeo("copy", "-q", "--all", `oci:${out}:multi`, `oci:${join(root, "index-again")}:m`);
    expect(rawManifest(`oci:${join(root, "index-again")}:m`).digest).toBe(index.digest);
  });

  it("copies an index with a BuildKit-style attestation manifest (non-layer blobs)", async () => {
    const index = (await openOciLayout(fx.dir, fx.attestedIndexTag)) as ImageIndex;
    const out = join(root, "attested-out");
    await ociLayoutSink(out, "a").write(index);
    expect(rawManifest(`oci:${out}:a`).digest).toBe(index.digest);
    // skopeo copies all of it (it fails on any missing blob)
    skopeo("copy", "-q", "--all", `oci:${out}:a`, `oci:${join(root, "attested-again")}:a`);
    expect(readdirSync(join(out, "blobs/sha256")).sort()).toEqual(
      readdirSync(join(root, "attested-again", "blobs/sha256")).sort(),
    );
  });

  it("copies oci→oci keeping the manifest digest and reads back what it wrote", async () => {
    const image = await openImage(fx.dir, fx.tag);
    const first = join(root, "hop1");
    const second = join(root, "hop2");
    await ociLayoutSink(first, "x").write(image);
    const back = await openImage(first, "x");
    await ociLayoutSink(second).write(back);
    const final = await openOciLayout(second);
    expect(final.digest).toBe(image.digest);
    expect(JSON.parse(indexJson(second).toString()).manifests[0].annotations).toBeUndefined();
  });

  it("a failing layer leaves no new layout directory and no temporary files", async () => {
    const image = withFailingLayer(await openImage(fx.dir, fx.tag), 1);
    const out = join(root, "never");
    const err = await ociLayoutSink(out, "t")
      .write(image)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/simulated network reset/);
    expect(existsSync(out)).toBe(false);
    expect(leftovers(root)).toEqual([]);
  });

  it("a failing write leaves an existing layout's index.json byte-identical", async () => {
    const existing = join(root, "existing");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `oci:${existing}:arm`);
    const before = indexJson(existing);
    const image = await openImage(fx.dir, fx.tag);
    const err = await ociLayoutSink(existing, "arm")
      .write(withFailingLayer(image, 1))
      .catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/simulated network reset/);
    expect(indexJson(existing).equals(before)).toBe(true);
    expect(leftovers(existing)).toEqual([]);
    // manifests are written after what they reference: the image's manifest never got there
    expect(readdirSync(join(existing, "blobs/sha256"))).not.toContain(image.digest.slice(7));
    expect(rawManifest(`oci:${existing}:arm`).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.armTag}`).digest);
  });

  it("can be cancelled: CANCELLED, and nothing is left behind", async () => {
    const image = await openImage(fx.dir, fx.tag);
    // every layer stream stalls until the write is cancelled
    const slow = withLayerStreams(image, () => async (opts) => {
      const s = new PassThrough();
      s.write(Buffer.alloc(10));
      opts?.signal?.addEventListener("abort", () => s.destroy(opts.signal?.reason as Error));
      return s;
    });
    const controller = new AbortController();
    const out = join(root, "cancelled");
    setTimeout(() => controller.abort(), 50);
    const err = await ociLayoutSink(out, "t")
      .write(slow, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("CANCELLED");
    expect(existsSync(out)).toBe(false);
    expect(leftovers(root)).toEqual([]);
  });

  it("a tampered blob in the source fails with DIGEST_MISMATCH and writes nothing", async () => {
    const src = join(root, "tampered-src");
    cpSync(fx.dir, src, { recursive: true });
    const image = await openImage(src, fx.tag);
    const layer = (await image.layers())[0]!;
    const p = join(src, "blobs/sha256", layer.digest.slice(7));
    const bytes = readFileSync(p);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10]! + 1) % 256;
    writeFileSync(p, bytes);

    const out = join(root, "tampered-out");
    const err = await ociLayoutSink(out, "t")
      .write(image)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("DIGEST_MISMATCH");
    expect(existsSync(out)).toBe(false);

    const existing = join(root, "tampered-existing");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `oci:${existing}:arm`);
    const before = indexJson(existing);
    const err2 = await ociLayoutSink(existing, "t")
      .write(image)
      .catch((e: unknown) => e);
    expect((err2 as OcipatchError).code).toBe("DIGEST_MISMATCH");
    expect(indexJson(existing).equals(before)).toBe(true);
    expect(leftovers(existing)).toEqual([]);
    expect(readdirSync(join(existing, "blobs/sha256"))).not.toContain(layer.digest.slice(7));
    expect(leftovers(root)).toEqual([]);
  });

  it("refuses a non-empty directory that is not a layout, and bad tags", async () => {
    const image = await openImage(fx.dir, fx.tag);
    const notLayout = join(root, "l1"); // the fixture's layer source tree
    await expect(ociLayoutSink(notLayout, "t").write(image)).rejects.toThrow(/not an OCI image layout/);
    await expect(ociLayoutSink(join(root, "bad-tag"), "a b").write(image)).rejects.toThrow(/invalid tag/);
    expect(existsSync(join(root, "bad-tag"))).toBe(false);
  });
});

describe("sha512 digests (image-spec: sha256 and sha512 are both registered algorithms)", () => {
  /** A copy of the fixture with the amd image stored again under `s512`: config and manifest by sha512. */
  function sha512Layout(name: string) {
    const dir = join(root, name);
    cpSync(fx.dir, dir, { recursive: true });
    return { dir, ...addSha512Image(dir, fx.tag, "s512") };
  }

  /** Change one byte of a file, keeping its size. */
  function tamper(path: string, from: string, to: string): void {
    const text = readFileSync(path, "latin1");
    expect(text).toContain(from);
    writeFileSync(path, text.replace(from, to), "latin1");
  }

  it("a same-size tampered config behind a sha512 descriptor is refused, as skopeo refuses it", async () => {
    const l = sha512Layout("s512-tampered-config");
    tamper(l.config, "amd64", "amd65");
    expect(() => skopeo("inspect", "--config", `oci:${l.dir}:s512`)).toThrow(
      /does not match expected sha512:/,
    );
    const image = await openImage(l.dir, "s512");
    const err = await image.rawConfig().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("DIGEST_MISMATCH");
    expect((err as Error).message).toMatch(/does not match expected sha512:/);
  });

  it("a same-size tampered top manifest listed by sha512 is refused", async () => {
    const l = sha512Layout("s512-tampered-manifest");
    // still a well-formed manifest: one hex digit of a layer's digest changed
    const layer = (JSON.parse(readFileSync(l.manifest, "utf8")) as { layers: Array<{ digest: string }> })
      .layers[0]!.digest;
    tamper(l.manifest, layer, `${layer.slice(0, -1)}${layer.endsWith("0") ? "1" : "0"}`);
    const err = await openOciLayout(l.dir, "s512").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("DIGEST_MISMATCH");
  });

  it("a valid sha512 image is copied to a new layout: its blobs under blobs/sha512, checked by their own hash", async () => {
    const l = sha512Layout("s512-valid");
    const image = await openImage(l.dir, "s512");
    expect(image.digest).toMatch(/^sha512:/);
    const out = join(root, "s512-out");
    const res = await ociLayoutSink(out, "x").write(image);
    expect(res.digest).toBe(image.digest);
    const stored = readdirSync(join(out, "blobs/sha512")).sort();
    expect(stored).toEqual([image.digest.slice(7), image.manifest.config.digest.slice(7)].sort());
    for (const hex of stored) expect(sha512Hex(readFileSync(join(out, "blobs/sha512", hex)))).toBe(hex);
    // the layers keep their sha256 blobs, and the copy reads back whole
    const back = await openImage(out, "x");
    expect(back.digest).toBe(image.digest);
    expect((await back.rawConfig()).equals(await image.rawConfig())).toBe(true);
    for (const layer of await back.layers()) for await (const _ of await layer.uncompressed()) void _;
    expect(leftovers(root)).toEqual([]);
  });
});

/** Mount an empty tmpfs (`size`: its limit) at a new directory `name` under the test root; unmounted after `fn`. */
async function withTmpfs(name: string, fn: (mnt: string) => Promise<void>, size?: string): Promise<void> {
  const mnt = join(root, name);
  mkdirSync(mnt);
  execFileSync("mount", ["-t", "tmpfs", ...(size === undefined ? [] : ["-o", `size=${size}`]), "tmpfs", mnt]);
  try {
    await fn(mnt);
  } finally {
    execFileSync("umount", [mnt]);
  }
}

describe("destinations that cannot be renamed over: an empty mount point", () => {
  it("a new layout is written into an empty tmpfs mount point (skopeo reads it); a failure leaves it empty", async () => {
    await withTmpfs("mnt-layout", async (mnt) => {
      const image = await openImage(fx.dir, fx.tag);
      const err = await ociLayoutSink(mnt, "x")
        .write(withFailingLayer(image, 1))
        .catch((e: unknown) => e);
      expect(String((err as Error).message)).toMatch(/simulated network reset/);
      expect(readdirSync(mnt)).toEqual([]);

      const res = await ociLayoutSink(mnt, "x").write(image);
      expect(res.digest).toBe(image.digest);
      expect(rawManifest(`oci:${mnt}:x`).digest).toBe(image.digest);
      expect(readdirSync(mnt).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
      // skopeo wrote the same layout into a directory: the same index.json
      const sk = join(root, "mnt-layout-skopeo");
      skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `oci:${sk}:x`);
      expect(JSON.parse(indexJson(mnt).toString())).toEqual(JSON.parse(indexJson(sk).toString()));
      // and a second write adds to it as to any layout
      await ociLayoutSink(mnt, "arm").write(await openImage(fx.dir, fx.armTag));
      expect(rawManifest(`oci:${mnt}:arm`).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.armTag}`).digest);
      expect(rawManifest(`oci:${mnt}:x`).digest).toBe(image.digest);
    });
  });
});

describe("a new DIR that becomes a mount point while the layout is staged next to it", () => {
  it("cannot be filled from the staging directory (another file system): one IO line, nothing left in it or beside it", async () => {
    expect(process.getuid?.(), "mounting a tmpfs needs root").toBe(0);
    const image = await openImage(fx.dir, fx.tag);
    const parent = join(root, "late-mount");
    mkdirSync(parent);
    const dir = join(parent, "layout");
    let mounted = false;
    // DIR does not exist when the write starts (staged next to it); it is a tmpfs once a layer is read
    const late = withLayerStreams(image, (i) =>
      i !== 0
        ? undefined
        : async (o) => {
            mkdirSync(dir);
            execFileSync("mount", ["-t", "tmpfs", "tmpfs", dir]);
            mounted = true;
            return (await image.layers())[0]!.compressed(o);
          },
    );
    try {
      const err = await ociLayoutSink(dir, "x")
        .write(late)
        .catch((e: unknown) => e);
      expect(mounted).toBe(true);
      expect(err).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("IO");
      expect((err as Error).message).toBe(`cannot move the new content into place in ${dir}: EXDEV`);
      expect(readdirSync(dir)).toEqual([]);
      expect(readdirSync(parent)).toEqual(["layout"]);
    } finally {
      if (mounted) execFileSync("umount", [dir]);
    }
  });
});

/** Names of partial blobs (`.<hex>.ocipatch-<pid>-<hex>.tmp`) in a layout's root and `blobs/<alg>/`. */
function partialBlobs(layout: string): string[] {
  const dirs = [layout, ...readdirSync(join(layout, "blobs")).map((alg) => join(layout, "blobs", alg))];
  return dirs.flatMap((d) => leftovers(d).map((n) => join(d, n)));
}

describe("a layout whose blobs/ is another file system than the layout", () => {
  it("new blobs are written there (skopeo and umoci read the image); a failed write leaves no partial blob", async () => {
    expect(process.getuid?.(), "mounting a tmpfs needs root").toBe(0);
    const dir = join(root, "xdev-blobs");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `oci:${dir}:arm`);
    // blobs/ becomes a tmpfs holding the same blobs: a rename from the layout root into it is EXDEV
    renameSync(join(dir, "blobs"), join(dir, "blobs.disk"));
    await withTmpfs("xdev-blobs/blobs", async (blobs) => {
      cpSync(join(dir, "blobs.disk"), blobs, { recursive: true });
      rmSync(join(dir, "blobs.disk"), { recursive: true });
      expect(statSync(blobs).dev).not.toBe(statSync(dir).dev);
      const before = indexJson(dir);
      const image = await openImage(fx.dir, fx.tag);

      const err = await ociLayoutSink(dir, "amd")
        .write(withFailingLayer(image, 1))
        .catch((e: unknown) => e);
      expect(String((err as Error).message)).toMatch(/simulated network reset/);
      expect(indexJson(dir).equals(before)).toBe(true);
      expect(partialBlobs(dir)).toEqual([]);

      // a partial blob of a killed run (its pid gone) is swept by the next write
      const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout;
      const stale = join(blobs, "sha256", `.0123456789ab.ocipatch-${dead.toString()}-00112233aabb.tmp`);
      writeFileSync(stale, "partial");

      const res = await ociLayoutSink(dir, "amd").write(image);
      expect(res.digest).toBe(image.digest);
      expect(existsSync(stale)).toBe(false);
      expect(partialBlobs(dir)).toEqual([]);
      expect(readdirSync(join(blobs, "sha256"))).toContain(image.manifest.config.digest.slice(7));
      expect(rawManifest(`oci:${dir}:amd`).digest).toBe(image.digest);
      expect(rawManifest(`oci:${dir}:arm`).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.armTag}`).digest);
      const original = treeListing(umociUnpack(fx.dir, fx.tag, join(root, "xdev-bundle-orig")));
      expect(treeListing(umociUnpack(dir, "amd", join(root, "xdev-bundle")))).toEqual(original);
    });
  });
});

/** Bind-mount the file `from` onto a new empty file `name` under the test root; unmounted after `fn`. */
async function withBoundFile(from: string, name: string, fn: (file: string) => Promise<void>): Promise<void> {
  const file = join(root, name);
  writeFileSync(file, "");
  execFileSync("mount", ["--bind", from, file]);
  try {
    await fn(file);
  } finally {
    execFileSync("umount", [file]);
  }
}

describe("an oci-archive FILE that is a mount point (a bind-mounted file cannot be renamed over)", () => {
  it("is written in place, as skopeo writes it; a failure while writing it leaves it empty", async () => {
    expect(process.getuid?.(), "mounting needs root").toBe(0);
    const image = await openImage(fx.dir, fx.tag);
    await withTmpfs("bound-archive-fs", async (fs) => {
      for (const who of ["skopeo", "ocipatch"] as const) {
        const backing = join(fs, `${who}.tar`);
        writeFileSync(backing, "an older archive");
        await withBoundFile(backing, `bound-${who}.tar`, async (file) => {
          if (who === "skopeo") skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `oci-archive:${file}:amd`);
          else await ociArchiveSink(file, "amd").write(image);
          expect(rawManifest(`oci-archive:${file}:amd`).digest, who).toBe(image.digest);
          expect(readFileSync(backing).equals(readFileSync(file))).toBe(true);
        });
      }
    });
    expect(leftovers(root)).toEqual([]);
    // a file system too small for the archive: the write fails in the middle, the file is left empty
    await withTmpfs(
      "bound-archive-small",
      async (fs) => {
        const backing = join(fs, "small.tar");
        writeFileSync(backing, "an older archive");
        await withBoundFile(backing, "bound-small.tar", async (file) => {
          const err = await ociArchiveSink(file, "amd")
            .write(image)
            .catch((e: unknown) => e);
          expect(err).toBeInstanceOf(OcipatchError);
          expect((err as OcipatchError).code).toBe("IO");
          expect((err as Error).message).toContain("ENOSPC");
          expect(statSync(backing).size).toBe(0);
        });
      },
      "8k",
    );
    expect(leftovers(root)).toEqual([]);
  });
});

describe("symlinked destinations are written through, as skopeo does", () => {
  it("oci: a symlink to an existing layout is added to; the link stays", async () => {
    const real = join(root, "link-layout-real");
    skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `oci:${real}:arm`);
    const link = join(root, "link-layout");
    symlinkSync(real, link);
    const image = await openImage(fx.dir, fx.tag);
    await ociLayoutSink(link, "amd").write(image);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(rawManifest(`oci:${real}:amd`).digest).toBe(image.digest);
    expect(rawManifest(`oci:${real}:arm`).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.armTag}`).digest);
    // a symlink to an empty directory: the layout is made there
    mkdirSync(join(root, "link-empty-real"));
    symlinkSync("link-empty-real", join(root, "link-empty"));
    await ociLayoutSink(join(root, "link-empty"), "amd").write(image);
    expect(readlinkSync(join(root, "link-empty"))).toBe("link-empty-real");
    expect(rawManifest(`oci:${join(root, "link-empty-real")}:amd`).digest).toBe(image.digest);
    expect(leftovers(root)).toEqual([]);
  });

  it("oci-archive: a symlink to an archive stays a symlink; the file it points at is replaced (skopeo alike)", async () => {
    const image = await openImage(fx.dir, fx.tag);
    for (const who of ["skopeo", "ocipatch"] as const) {
      const real = join(root, `link-archive-${who}.tar`);
      const link = join(root, `link-archive-${who}`);
      skopeo("copy", "-q", `oci:${fx.dir}:${fx.armTag}`, `oci-archive:${real}:arm`);
      symlinkSync(real, link);
      if (who === "skopeo") skopeo("copy", "-q", `oci:${fx.dir}:${fx.tag}`, `oci-archive:${link}:amd`);
      else await ociArchiveSink(link, "amd").write(image);
      expect(lstatSync(link).isSymbolicLink(), who).toBe(true);
      expect(rawManifest(`oci-archive:${real}:amd`).digest).toBe(image.digest);
    }
    expect(leftovers(root)).toEqual([]);
  });
});

describe("a layout being moved into an empty DIR by another run", () => {
  /**
   * DIR as a run filling it in place leaves it between two of its renames: `blobs/` and
   * `index.json` moved in, `oci-layout` (moved last) not yet, the directory's lock held by a live
   * process. `finish()` does what that run does next: moves `oci-layout` in, releases the lock.
   */
  function halfMoved(name: string, tag: string): { dir: string; finish: () => void } {
    const staged = join(root, `${name}-staged`);
    skopeo("copy", "-q", `oci:${fx.dir}:${tag}`, `oci:${staged}:${tag}`);
    const dir = join(root, name);
    mkdirSync(dir);
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    writeFileSync(join(dir, ".index.json.lock"), String(holder.pid));
    renameSync(join(staged, "blobs"), join(dir, "blobs"));
    renameSync(join(staged, "index.json"), join(dir, "index.json"));
    return {
      dir,
      finish: () => {
        renameSync(join(staged, "oci-layout"), join(dir, "oci-layout"));
        rmSync(join(dir, ".index.json.lock"));
        rmSync(staged, { recursive: true });
        holder.kill();
      },
    };
  }

  it("a reader waits for it and reads the layout (a lock whose owner is gone is not waited for)", async () => {
    const m = halfMoved("half-moved-read", fx.tag);
    const reading = openImage(m.dir, fx.tag);
    setTimeout(m.finish, 300);
    expect((await reading).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.tag}`).digest);
    // the same state left by a killed run: refused at once
    const dead = join(root, "half-moved-dead");
    mkdirSync(join(dead, "blobs"), { recursive: true });
    writeFileSync(join(dead, "index.json"), indexJson(fx.dir));
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout;
    writeFileSync(join(dead, ".index.json.lock"), gone);
    const started = Date.now();
    await expect(openImage(dead, fx.tag)).rejects.toThrow(/is not an OCI image layout/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("a writer waits for it and adds its image to the layout: both tags kept", async () => {
    const m = halfMoved("half-moved-write", fx.armTag);
    const writing = ociLayoutSink(m.dir, "amd").write(await openImage(fx.dir, fx.tag));
    setTimeout(m.finish, 300);
    await writing;
    expect(rawManifest(`oci:${m.dir}:amd`).digest).toBe(rawManifest(`oci:${fx.dir}:${fx.tag}`).digest);
    expect(rawManifest(`oci:${m.dir}:${fx.armTag}`).digest).toBe(
      rawManifest(`oci:${fx.dir}:${fx.armTag}`).digest,
    );
    expect(readdirSync(m.dir).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
    expect(partialBlobs(m.dir)).toEqual([]);
  });
});

describe("two runs creating the same new layout at once", () => {
  it("both tags are kept (the later one adds to the layout the earlier one made)", async () => {
    const amd = await openImage(fx.dir, fx.tag);
    const arm = await openImage(fx.dir, fx.armTag);
    for (let round = 0; round < 4; round++) {
      const target = join(root, `race-${round}`, "layout");
      // a new directory, and (odd rounds) an existing empty one, filled in place
      if (round % 2 === 1) mkdirSync(target, { recursive: true });
      const results = await Promise.allSettled([
        ociLayoutSink(target, "amd").write(amd),
        ociLayoutSink(target, "arm").write(arm),
      ]);
      expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok"]);
      expect(rawManifest(`oci:${target}:amd`).digest).toBe(amd.digest);
      expect(rawManifest(`oci:${target}:arm`).digest).toBe(arm.digest);
      expect(readdirSync(target).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
      expect(leftovers(join(root, `race-${round}`))).toEqual([]);
    }
  });
});
