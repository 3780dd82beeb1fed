/**
 * Hostile variants of the harness images: a base image's OCI layout (its blobs symlinked, never
 * modified) plus one extra uncompressed layer written at test time with Python's tarfile, which
 * can express what a hostile image may carry (FIFOs, devices, dangling hardlinks). Returns an
 * `oci:` reference the product reads.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import * as tarStream from "tar-stream";
import type { TestImage } from "./images.js";
import {
  blobPath,
  type Descriptor,
  MEDIA_MANIFEST,
  type OciConfig,
  type OciManifest,
  readJsonBlob,
  tagDescriptor,
  taggedDescriptor,
  writeIndex,
  writeJsonBlob,
} from "./oci-layout.js";

export interface LayerEntry {
  /** Tar member name, e.g. "etc/apt/sources.list" (written as is: "./" is not added). */
  readonly name: string;
  readonly type: "file" | "dir" | "symlink" | "hardlink" | "fifo" | "chr";
  readonly data?: string;
  /** A file of this machine whose bytes are the entry's content (large generated inputs). */
  readonly source?: string;
  readonly link?: string;
}

const MKTAR = `
import sys, tarfile, io, json
spec = json.loads(sys.stdin.read())
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for e in spec:
        i = tarfile.TarInfo(e["name"])
        i.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                  "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[e["type"]]
        i.linkname = e.get("link", "")
        i.mode = 0o755 if e["type"] == "dir" else 0o644
        i.mtime = 1700000000
        if e["type"] == "chr":
            i.devmajor, i.devminor = 1, 5
        if "source" in e:
            with open(e["source"], "rb") as f:
                f.seek(0, 2)
                i.size = f.tell()
                f.seek(0)
                t.addfile(i, f)
            continue
        data = e.get("data", "").encode()
        i.size = len(data) if e["type"] == "file" else 0
        t.addfile(i, io.BytesIO(data) if e["type"] == "file" else None)
`;

/** Write an uncompressed layer tar as a blob of `layout`; returns its descriptor (digest = diffID). */
export function writeLayerBlob(layout: string, entries: readonly LayerEntry[]): Descriptor {
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  const tmp = join(layout, "blobs", "layer.tar.tmp");
  execFileSync("python3", ["-c", MKTAR, tmp], { input: JSON.stringify(entries) });
  const data = readFileSync(tmp);
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  renameSync(tmp, blobPath(layout, digest));
  return { mediaType: "application/vnd.oci.image.layer.v1.tar", digest, size: data.length };
}

/** A new OCI layout at `dest` holding `base` (single-platform) with `layers` appended; returns "oci:DEST:TAG". */
export function imageWithLayers(
  base: TestImage,
  dest: string,
  layers: ReadonlyArray<readonly LayerEntry[]>,
  tag = "hostile",
): string {
  prepareLayout(base, dest);
  const added = layers.map((entries) => {
    const d = writeLayerBlob(dest, entries);
    return { descriptor: d, diffId: d.digest };
  });
  return tagImageWithLayers(base, dest, added, tag);
}

/**
 * A new OCI layout at `dest` holding `base` plus one gzip layer with a single file `name` of
 * `bytes` zero bytes (a large image that costs little disk: ~1/1000 compressed); "oci:DEST:TAG".
 */
export async function imageWithZeroFile(
  base: TestImage,
  dest: string,
  name: string,
  bytes: number,
  tag = "large",
): Promise<string> {
  return imageWithFileLayers(base, dest, [{ name, bytes, fill: "zeros" }], tag);
}

/** One generated layer: a single file of `bytes` zeros or random (incompressible) bytes. */
interface GeneratedLayer {
  readonly name: string;
  readonly bytes: number;
  readonly fill: "zeros" | "random";
}

/** A new OCI layout at `dest` holding `base` plus one gzip layer per entry of `layers`; "oci:DEST:TAG". */
export async function imageWithFileLayers(
  base: TestImage,
  dest: string,
  layers: readonly GeneratedLayer[],
  tag = "generated",
): Promise<string> {
  prepareLayout(base, dest);
  const added = [];
  for (const l of layers) added.push(await writeGzipFileLayer(dest, l));
  return tagImageWithLayers(base, dest, added, tag);
}

async function writeGzipFileLayer(
  dest: string,
  layer: GeneratedLayer,
): Promise<{ descriptor: Descriptor; diffId: string }> {
  const tmp = join(dest, "blobs", `layer.${process.pid}.tar.gz.tmp`);
  const diff = createHash("sha256");
  const blob = createHash("sha256");
  let size = 0;
  const pack = tarStream.pack();
  const gzip = createGzip({ level: 1 });
  pack.pipe(gzip);
  pack.on("data", (c: unknown) => {
    diff.update(c as Buffer);
  });
  gzip.on("data", (c: Buffer) => {
    blob.update(c);
    size += c.length;
  });
  const done = pipeline(gzip, createWriteStream(tmp));
  const entry = pack.entry(
    { name: layer.name, size: layer.bytes, mode: 0o644, mtime: new Date(1_700_000_000_000) },
    () => pack.finalize(),
  );
  const chunk = 1024 * 1024;
  const zeros = Buffer.alloc(chunk);
  for (let left = layer.bytes; left > 0; left -= chunk) {
    const n = Math.min(left, chunk);
    const part = layer.fill === "random" ? randomBytes(n) : zeros.subarray(0, n);
    if (!entry.write(part)) await new Promise<void>((r) => entry.once("drain", () => r()));
  }
  entry.end(undefined);
  await done;
  const digest = `sha256:${blob.digest("hex")}`;
  renameSync(tmp, blobPath(dest, digest));
  return {
    descriptor: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size },
    diffId: `sha256:${diff.digest("hex")}`,
  };
}

/** `dest` as an OCI layout whose blobs are symlinks to base's (never modified). */
function prepareLayout(base: TestImage, dest: string): void {
  mkdirSync(join(dest, "blobs", "sha256"), { recursive: true });
  for (const f of readdirSync(join(base.layoutDir, "blobs", "sha256")))
    symlinkSync(join(base.layoutDir, "blobs", "sha256", f), join(dest, "blobs", "sha256", f));
  writeFileSync(join(dest, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeIndex(dest, { schemaVersion: 2, manifests: [] });
}

/** Tags in `dest` base's image with `added` layers (blobs already in `dest`) on top; "oci:DEST:TAG". */
function tagImageWithLayers(
  base: TestImage,
  dest: string,
  added: ReadonlyArray<{ readonly descriptor: Descriptor; readonly diffId: string }>,
  tag: string,
): string {
  const top = taggedDescriptor(base.layoutDir, base.tag);
  if (top.mediaType !== MEDIA_MANIFEST) throw new Error(`${base.name} is not a single-platform image`);
  const manifest = readJsonBlob<OciManifest>(base.layoutDir, top.digest);
  const config = readJsonBlob<OciConfig>(base.layoutDir, manifest.config.digest);
  const newConfig: OciConfig = {
    ...config,
    rootfs: { ...config.rootfs, diff_ids: [...config.rootfs.diff_ids, ...added.map((a) => a.diffId)] },
    history: [...(config.history ?? []), ...added.map(() => ({ created_by: "hostile layer (test)" }))],
  };
  const configDesc = writeJsonBlob(dest, manifest.config.mediaType, newConfig);
  const newManifest: OciManifest = {
    ...manifest,
    mediaType: MEDIA_MANIFEST,
    config: configDesc,
    layers: [...manifest.layers, ...added.map((a) => a.descriptor)],
  };
  tagDescriptor(dest, tag, writeJsonBlob(dest, MEDIA_MANIFEST, newManifest));
  return `oci:${dest}:${tag}`;
}
