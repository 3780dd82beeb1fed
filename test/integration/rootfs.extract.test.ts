/**
 * `extractLayers` / the root filesystem directory sink (`patch --output-mode local`) against
 * umoci: a real image and a synthetic one with whiteouts, an opaque directory, hardlinks,
 * symlinks in parent paths and entries that change type extract to the same tree as
 * `umoci unpack` (type, mode, owner, link target, content, mtime, link count). Hostile layers:
 * a symlink that climbs out of the root is refused and nothing is written outside or left
 * half-written; an absolute symlink is resolved inside the directory.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import type { Image, Layer } from "../../src/image/image.js";
import { extractLayers } from "../../src/rootfs/extract.js";
import { openImage } from "../../src/transport/index.js";
import { rootfsDirSink } from "../../src/transport/rootfs-dir/sink.js";
import { umociUnpack } from "../harness/archive-fixtures.js";
import { run } from "../harness/exec.js";
import { makeTempDir, mountsUnder } from "../harness/fs.js";
import { imageWithLayers, type LayerEntry } from "../harness/hostile-image.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { unpackImage } from "../harness/oracle.js";
import { diffRootfs } from "../harness/rootfs-diff.js";

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

async function extractTo(ref: string, dir: string) {
  mkdirSync(dir, { recursive: true });
  const image = await openImage(ref);
  return extractLayers(await image.layers(), dir);
}

/** A barrier for `parties` callers: the promise each gets resolves when all have arrived. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return () => {
    if (++arrived === parties) open();
    return opened;
  };
}

/** The image with the stream of its last layer held at its end until `arrive()` resolves. */
function endingTogether(image: Image, arrive: () => Promise<void>): Image {
  const hold = (src: Readable): Readable => {
    const out = new PassThrough();
    src.pipe(out, { end: false });
    src.once("end", () => void arrive().then(() => out.end()));
    src.once("error", (e) => out.destroy(e));
    return out;
  };
  return {
    kind: "image",
    description: image.description,
    mediaType: image.mediaType,
    digest: image.digest,
    rawManifest: image.rawManifest,
    manifest: image.manifest,
    rawConfig: (o) => image.rawConfig(o),
    configFile: (o) => image.configFile(o),
    layers: async (o) => {
      const layers = await image.layers(o);
      const last = layers.at(-1)!;
      const held: Layer = {
        ...last,
        compressed: async (oo) => hold(await last.compressed(oo)),
        uncompressed: async (oo) => hold(await last.uncompressed(oo)),
      };
      return [...layers.slice(0, -1), held];
    },
  };
}

describe("extracting an image's root filesystem (umoci as the oracle)", { timeout: 600_000 }, () => {
  let base: TestImage;
  beforeAll(async () => {
    base = await ensureImage("debian-bookworm");
  }, 600_000);
  afterAll(async () => {
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("a real image extracts to the same tree as umoci unpack", async () => {
    const dir = temp("extract-real");
    const stats = await extractTo(base.ociRef, join(dir, "ours"));
    const { rootfs } = await unpackImage(base, join(dir, "umoci"));
    expect(diffRootfs(join(dir, "ours"), rootfs, [], { mtimes: true })).toEqual([]);
    expect(stats.files).toBeGreaterThan(1000);
    expect(stats.symlinks).toBeGreaterThan(10);
  });

  it("whiteouts, opaque directories, hardlinks, symlinked parents, type changes: the same as umoci", async () => {
    const dir = temp("extract-synthetic");
    const lower: LayerEntry[] = [
      { name: "opq", type: "dir" },
      { name: "opq/a", type: "file", data: "a" },
      { name: "opq/sub", type: "dir" },
      { name: "opq/sub/b", type: "file", data: "b" },
      { name: "gone", type: "file", data: "gone" },
      { name: "gonedir", type: "dir" },
      { name: "gonedir/x", type: "file", data: "x" },
      { name: "becomes-dir", type: "file", data: "file first" },
      { name: "dir-to-file", type: "dir" },
      { name: "dir-to-file/y", type: "file", data: "y" },
      { name: "share", type: "symlink", link: "usr/share" },
      { name: "abs", type: "symlink", link: "/usr/lib" },
      { name: "kept", type: "file", data: "kept" },
    ];
    const upper: LayerEntry[] = [
      { name: "opq/.wh..wh..opq", type: "file" },
      { name: "opq/c", type: "file", data: "c" },
      { name: ".wh.gone", type: "file" },
      { name: ".wh.gonedir", type: "file" },
      { name: "becomes-dir", type: "dir" },
      { name: "becomes-dir/z", type: "file", data: "z" },
      { name: "dir-to-file", type: "file", data: "now a file" },
      { name: "hl", type: "hardlink", link: "opq/c" },
      { name: "hl-base", type: "hardlink", link: "etc/debian_version" },
      { name: "share/ocipatch-through-link", type: "file", data: "via a relative symlink" },
      { name: "abs/ocipatch-through-abs", type: "file", data: "via an absolute symlink" },
      { name: "fifo1", type: "fifo" },
      { name: "dev1", type: "chr" },
    ];
    const ref = imageWithLayers(base, join(dir, "layout"), [lower, upper]);
    const ours = join(dir, "ours");
    const stats = await extractTo(ref, ours);
    const { rootfs } = await unpackImage(ref, join(dir, "umoci"));
    // device nodes and FIFOs are not created (documented); everything else is umoci's tree
    expect(diffRootfs(ours, rootfs, [/^(fifo1|dev1)$/], { mtimes: true })).toEqual([]);
    expect(stats.skippedSpecial).toBe(2);
    expect(existsSync(join(ours, "fifo1")) || existsSync(join(ours, "dev1"))).toBe(false);
    // and what that means, spelled out
    expect(readdirSync(join(ours, "opq"))).toEqual(["c"]);
    expect(existsSync(join(ours, "gone")) || existsSync(join(ours, "gonedir"))).toBe(false);
    expect(readFileSync(join(ours, "becomes-dir", "z"), "utf8")).toBe("z");
    expect(readFileSync(join(ours, "dir-to-file"), "utf8")).toBe("now a file");
    expect(lstatSync(join(ours, "hl")).ino).toBe(lstatSync(join(ours, "opq", "c")).ino);
    expect(readlinkSync(join(ours, "share"))).toBe("usr/share");
    expect(readFileSync(join(ours, "usr", "share", "ocipatch-through-link"), "utf8")).toBe(
      "via a relative symlink",
    );
    expect(readFileSync(join(ours, "usr", "lib", "ocipatch-through-abs"), "utf8")).toBe(
      "via an absolute symlink",
    );
  });

  it("a symlink climbing out of the root is refused; nothing outside, nothing half-written", async () => {
    const dir = temp("extract-hostile");
    const outside = join(dir, "outside");
    mkdirSync(outside);
    // the layout sits 2 levels below `dir`; the extraction directory too: ../../outside from its root
    const ref = imageWithLayers(base, join(dir, "layout"), [
      [{ name: "evil", type: "symlink", link: "../../outside" }],
      [{ name: "evil/pwned", type: "file", data: "escaped" }],
    ]);
    const target = join(dir, "out", "root");
    const sink = rootfsDirSink(target);
    const image = await openImage(ref);
    const err = await sink.write(image).catch((e: unknown) => e);
    expect(isOcipatchError(err, "HOSTILE_LAYER"), String(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /symlink \/evil -> \.\.\/\.\.\/outside points out of the image root/,
    );
    expect(readdirSync(outside)).toEqual([]);
    // the staging directory and the parent it created are gone
    expect(existsSync(join(dir, "out"))).toBe(false);
  });

  it("an absolute symlink in a parent path stays inside the directory", async () => {
    const dir = temp("extract-abs");
    const outside = join(dir, "outside-abs");
    mkdirSync(outside);
    const ref = imageWithLayers(base, join(dir, "layout"), [
      [{ name: "abs-evil", type: "symlink", link: outside }],
      [{ name: "abs-evil/pwned", type: "file", data: "inside" }],
    ]);
    const target = join(dir, "root");
    await rootfsDirSink(target).write(await openImage(ref));
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(join(target, outside, "pwned"), "utf8")).toBe("inside");
    expect(readlinkSync(join(target, "abs-evil"))).toBe(outside);
  });

  it("an empty mount point (tmpfs) is filled in place: the same tree as umoci, the mount kept", async () => {
    const dir = temp("extract-mnt");
    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    await run("mount", ["-t", "tmpfs", "tmpfs", mnt]);
    try {
      // a failure leaves it empty
      const ref = imageWithLayers(base, join(dir, "layout"), [
        [{ name: "ok", type: "file", data: "fine" }],
        [{ name: "evil", type: "symlink", link: "../../../outside" }],
        [{ name: "evil/pwned", type: "file", data: "escaped" }],
      ]);
      const err = await rootfsDirSink(mnt)
        .write(await openImage(ref))
        .catch((e: unknown) => e);
      expect(isOcipatchError(err, "HOSTILE_LAYER"), String(err)).toBe(true);
      expect(readdirSync(mnt)).toEqual([]);
      // a real image: written into the mount point (it cannot be renamed over: EBUSY before)
      await rootfsDirSink(mnt).write(await openImage(base.ociRef));
      expect(mountsUnder(mnt)).toEqual([mnt]);
      const { rootfs } = await unpackImage(base, join(dir, "umoci"));
      expect(diffRootfs(mnt, rootfs, [], { mtimes: true })).toEqual([]);
      expect(lstatSync(mnt).mode & 0o7777).toBe(lstatSync(rootfs).mode & 0o7777);
      expect(readdirSync(mnt).filter((n) => n.startsWith("."))).toEqual([]);
    } finally {
      await run("umount", [mnt]);
    }
  });

  it("a symlink to an empty directory is followed: the tree lands there, the link stays", async () => {
    const dir = temp("extract-link");
    mkdirSync(join(dir, "real"));
    symlinkSync("real", join(dir, "link"));
    await rootfsDirSink(join(dir, "link")).write(await openImage(base.ociRef));
    expect(readlinkSync(join(dir, "link"))).toBe("real");
    expect(existsSync(join(dir, "real", "etc", "debian_version"))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["link", "real"]);
  });

  it("two runs filling the same empty directory at once: one complete tree and one clean refusal, never a mix", async () => {
    const dir = temp("extract-race");
    // a small umoci-built image, so that many rounds are cheap: at its root files, a symlink and an
    // empty directory (which a second mover would silently replace) before a non-empty directory
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "d", "sub"), { recursive: true });
    mkdirSync(join(tree, "c"));
    writeFileSync(join(tree, "a"), "a\n");
    symlinkSync("a", join(tree, "b"));
    writeFileSync(join(tree, "d", "sub", "x"), "x\n");
    writeFileSync(join(tree, "e"), "e\n");
    const layout = join(dir, "layout");
    execFileSync("tar", ["--numeric-owner", "-C", tree, "-cf", join(dir, "layer.tar"), "."]);
    execFileSync("umoci", ["init", "--layout", layout]);
    execFileSync("umoci", ["new", "--image", `${layout}:empty`]);
    execFileSync("umoci", [
      "raw",
      "add-layer",
      "--image",
      `${layout}:empty`,
      "--tag",
      "t",
      join(dir, "layer.tar"),
    ]);
    const rootfs = umociUnpack(layout, "t", join(dir, "umoci"));
    const image = await openImage(`oci:${layout}:t`);
    for (let round = 0; round < 20; round++) {
      const target = join(dir, `root-${round}`);
      // an existing empty directory, which both fill in place; odd rounds: a new one, which both rename
      if (round % 2 === 0) mkdirSync(target);
      // both extractions end together, so that both move their trees into DIR at about the same time
      const together = barrier(2);
      const results = await Promise.allSettled([
        rootfsDirSink(target).write(endingTogether(image, together)),
        rootfsDirSink(target).write(endingTogether(image, together)),
      ]);
      const outcome = results.map((r) => (r.status === "fulfilled" ? "ok" : String(r.reason)));
      expect(
        outcome.filter((o) => o === "ok"),
        `round ${round}: ${outcome.join("; ")}`,
      ).toHaveLength(1);
      const refused = results.find((r) => r.status === "rejected")!.reason as Error;
      expect(isOcipatchError(refused, "IO"), String(refused)).toBe(true);
      expect(refused.message).toContain("is not empty");
      expect(diffRootfs(target, rootfs, [], { mtimes: true }), `round ${round}`).toEqual([]);
      expect(readdirSync(target).filter((n) => n.startsWith("."))).toEqual([]);
    }
  });

  it("a non-empty directory is refused before anything is written", async () => {
    const dir = temp("extract-used");
    mkdirSync(join(dir, "root"));
    mkdirSync(join(dir, "root", "mine"));
    const err = await rootfsDirSink(join(dir, "root"))
      .write(await openImage(base.ociRef))
      .catch((e: unknown) => e);
    expect(isOcipatchError(err, "IO"), String(err)).toBe(true);
    expect((err as Error).message).toContain("is not empty");
    expect(readdirSync(join(dir, "root"))).toEqual(["mine"]);
    expect(readdirSync(dir)).toEqual(["root"]);
  });
});
