import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { Image, ImageOrIndex, Layer } from "../../image/image.js";
import { encodeJson } from "../../image/manifest.js";
import { MediaTypes } from "../../image/media-types.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { familiarReference, parseReference, type Reference } from "../../reference/index.js";
import { type Digest, DigestStream, digestLike, hexOf, sha256 } from "../../util/digest.js";
import type { ProgressListener } from "../../util/progress.js";
import { discard } from "../../util/streams.js";
import {
  ioError,
  removeCreatedParents,
  removeQuietly,
  replaceFile,
  resolveTarget,
  siblingTempDir,
} from "../atomic-fs.js";
import { forEachLimit } from "../concurrency.js";
import { legacyLayers, MANIFEST_FILE, REPOSITORIES_FILE, synthesizeManifest } from "./format.js";

const LAYER_CONCURRENCY = 3;
const EPOCH = new Date(0);

/**
 * An `ImageSink` writing one image as a `docker save` archive
 * (`docker-archive:FILE[:REF]`): uncompressed layer tars named `<diffID hex>.tar`,
 * the config as `<config hex>.json`, `manifest.json`, legacy layer directories and,
 * with a reference, `repositories`. Layers are decompressed (and their diffIDs
 * checked) into a temporary directory next to FILE; the archive is assembled there
 * and renamed onto FILE at the end, so a failure leaves no output (a FILE that is a mount
 * point is written in place: `replaceFile`).
 */
export function dockerArchiveSink(file: string, ref?: Reference | string): ImageSink {
  return new DockerArchiveSink(file, typeof ref === "string" ? parseReference(ref) : ref);
}

class DockerArchiveSink implements ImageSink {
  readonly description: string;

  constructor(
    readonly file: string,
    readonly ref?: Reference,
  ) {
    this.description = `docker-archive:${file}${ref ? `:${familiarReference(ref)}` : ""}`;
  }

  async write(item: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult> {
    if (item.kind === "index") {
      throw new OcipatchError(
        "UNSUPPORTED",
        `cannot write an image index (${item.manifest.manifests.length} manifests) to ${this.description}: a docker archive holds one image; choose a platform (os/arch)`,
      );
    }
    if (this.ref?.digest !== undefined) {
      throw new OcipatchError(
        "REFERENCE_INVALID",
        `${this.description}: a docker archive names its image by tag, not by digest`,
      );
    }
    // a symlink is written through (as skopeo does), not replaced by a file
    const target = await resolveTarget(this.file, this.file);
    const existing = await stat(target).catch(undefinedIfNotFound);
    if (existing?.isDirectory()) {
      throw new OcipatchError("IO", `${this.file} is a directory; a docker archive is a file`);
    }
    const temp = await siblingTempDir(target);
    let written = false;
    try {
      const result = await this.writeInto(temp.dir, item, opts);
      await replaceFile(join(temp.dir, "archive.tar"), target, this.file, "docker archive");
      written = true;
      return result;
    } finally {
      await removeQuietly(temp.dir);
      // a failure leaves nothing: not even the parent directories this write created
      if (!written) await removeCreatedParents(target, temp.createdParent);
    }
  }

  private async writeInto(dir: string, image: Image, opts?: WriteOptions): Promise<WriteResult> {
    const stats = emptyStats();
    const rawConfig = await image.rawConfig(opts);
    const config = await image.configFile(opts);
    if (digestLike(rawConfig, image.manifest.config.digest) !== image.manifest.config.digest) {
      throw new OcipatchError("DIGEST_MISMATCH", `config of ${image.description} does not match its digest`);
    }
    const layers = await image.layers(opts);
    const diffIds = config.rootfs.diff_ids;
    if (layers.length !== diffIds.length || layers.some((l, i) => l.diffId !== diffIds[i])) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${image.description}: layers do not match the config's diff_ids`,
      );
    }

    // 1. every distinct layer, uncompressed and verified, into the temp directory
    const unique = [...new Map(layers.map((l) => [l.diffId, l])).values()];
    const sizes = new Map<Digest, number>();
    await forEachLimit(
      unique,
      LAYER_CONCURRENCY,
      async (layer, signal) => {
        sizes.set(
          layer.diffId,
          await extractLayer(layer, join(dir, layerFileName(layer.diffId)), signal, opts?.progress),
        );
        stats.blobsUploaded++;
        stats.bytesUploaded += layer.size;
      },
      opts?.signal,
    );

    // 2. the archive
    const configName = `${hexOf(image.manifest.config.digest)}.json`;
    const legacy = legacyLayers(config, rawConfig);
    const manifestJson = encodeJson([
      {
        Config: configName,
        RepoTags: this.ref ? [familiarReference(this.ref)] : null,
        Layers: diffIds.map(layerFileName),
      },
    ]);
    const pack = tar.pack();
    const out = pipeline(pack, createWriteStream(join(dir, "archive.tar"), { flags: "wx" }));
    out.catch(() => {}); // awaited below; avoid an unhandled rejection while entries are added
    try {
      for (const d of unique.map((l) => l.diffId)) {
        await addFile(pack, layerFileName(d), sizes.get(d)!, createReadStream(join(dir, layerFileName(d))));
      }
      await addBuffer(pack, configName, rawConfig);
      for (const l of legacy) {
        await addBuffer(pack, `${l.id}/VERSION`, Buffer.from("1.0"));
        await addBuffer(pack, `${l.id}/json`, l.json);
        await addEntry(pack, {
          name: `${l.id}/layer.tar`,
          type: "symlink",
          linkname: `../${layerFileName(l.diffId)}`,
          mode: 0o777,
        });
      }
      await addBuffer(pack, MANIFEST_FILE, manifestJson);
      const top = legacy.at(-1);
      if (this.ref && top) {
        const repos = { [familiarRepository(this.ref)]: { [this.ref.tag ?? "latest"]: top.id } };
        await addBuffer(pack, REPOSITORIES_FILE, encodeJson(repos));
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
      throw e;
    }
    await out.catch((e: unknown) => {
      throw ioError(`cannot write ${this.file}`, e);
    });

    // What reading the archive back yields (see openDockerArchive): uncompressed layers.
    const manifest = synthesizeManifest(
      image.manifest.config,
      diffIds.map((d) => ({ digest: d, size: sizes.get(d)!, compression: "none" as const })),
    );
    return {
      digest: sha256(manifest),
      mediaType: MediaTypes.dockerManifest,
      size: manifest.length,
      location: this.description,
      stats,
    };
  }
}

function layerFileName(diffId: Digest): string {
  return `${hexOf(diffId)}.tar`;
}

/** `nginx`, `user/app`, `host:5000/app`: the `repositories` key, as docker writes it. */
function familiarRepository(ref: Reference): string {
  return familiarReference({ ...ref, tag: undefined, digest: undefined });
}

/** Decompress a layer into `path`, verifying its diffID; returns the uncompressed size. */
async function extractLayer(
  layer: Layer,
  path: string,
  signal: AbortSignal,
  progress: ProgressListener | undefined,
): Promise<number> {
  const desc = { digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
  progress?.blobStart?.(desc, "write");
  const check = new DigestStream({ digest: layer.diffId, what: `layer ${layer.digest} (uncompressed)` });
  let done = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      progress?.blobProgress?.(desc, done);
      cb(null, chunk);
    },
  });
  let out: WriteStream | undefined;
  try {
    const source = await layer.uncompressed({ signal });
    out = createWriteStream(path, { flags: "wx" });
    await pipeline(source, check, count, out, { signal });
  } catch (e) {
    if (out) await discard(out); // the caller removes the directory
    if (e instanceof OcipatchError) throw e;
    if ((e as Error | undefined)?.name === "AbortError") {
      throw new OcipatchError("CANCELLED", `writing layer ${layer.digest} was cancelled`, { cause: e });
    }
    throw ioError(`cannot write layer ${layer.digest}`, e);
  }
  progress?.blobDone?.(desc, "write");
  return check.size;
}

type PackHeader = Parameters<tar.Pack["entry"]>[0];

function baseHeader(h: PackHeader): PackHeader {
  return { mode: 0o444, uid: 0, gid: 0, mtime: EPOCH, ...h };
}

export function addEntry(pack: tar.Pack, header: PackHeader): Promise<void> {
  return new Promise((res, rej) => {
    pack.entry(baseHeader(header), (err) => (err ? rej(err) : res()));
  });
}

export function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((res, rej) => {
    pack.entry(baseHeader({ name, size: data.length, type: "file" }), data, (err) =>
      err ? rej(err) : res(),
    );
  });
}

export function addFile(pack: tar.Pack, name: string, size: number, src: Readable): Promise<void> {
  return new Promise((res, rej) => {
    const entry = pack.entry(baseHeader({ name, size, type: "file" }), (err) => (err ? rej(err) : res()));
    src.on("error", (e) => {
      entry.destroy(e);
      rej(e);
    });
    src.pipe(entry);
  });
}
