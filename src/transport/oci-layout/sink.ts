import { chmod, lstat, readdir, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { OcipatchError } from "../../errors.js";
import { descriptorOf, type Image, type ImageOrIndex } from "../../image/image.js";
import { type Descriptor, encodeJson } from "../../image/manifest.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { toOciMediaTypes } from "../../image/to-oci.js";
import { digestLike } from "../../util/digest.js";
import {
  ioError,
  keepStaged,
  removeQuietly,
  siblingTempDir,
  sweepSiblingTempDirs,
  sweepTempFiles,
  writeFileAtomic,
} from "../atomic-fs.js";
import { forEachLimit } from "../concurrency.js";
import { LayoutBlobStore } from "./blob-store.js";
import { readIndexDocument, updateIndexDocument } from "./index-file.js";
import { addToLayoutIndex, assertValidRefName, emptyLayoutIndex } from "./index-json.js";
import { INDEX_FILE, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION } from "./layout.js";

/** How many layers of one image are written at the same time. */
const LAYER_CONCURRENCY = 4;

type Target = { kind: "new" } | { kind: "layout" };

/**
 * An `ImageSink` writing into an OCI image layout directory (`oci:DIR[:TAG]`).
 *
 * - A new layout is built in a temporary sibling directory and renamed into place at
 *   the end, so a failure leaves nothing behind.
 * - In an existing layout, blobs are added (existing ones with the right size are
 *   skipped) and `index.json` is replaced atomically as the very last step, so a
 *   failure leaves it untouched.
 */
export function ociLayoutSink(dir: string, tag?: string): ImageSink {
  return new OciLayoutSink(dir, tag);
}

class OciLayoutSink implements ImageSink {
  readonly description: string;

  constructor(
    readonly dir: string,
    readonly tag?: string,
  ) {
    this.description = `oci:${dir}${tag === undefined ? "" : `:${tag}`}`;
  }

  async write(given: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult> {
    if (this.tag !== undefined) assertValidRefName(this.tag, this.dir);
    // an OCI layout holds OCI media types (skopeo and umoci look nothing else up by tag)
    const item = await toOciMediaTypes(given, opts);
    const target = resolve(this.dir);
    const kind = await inspectTarget(target, this.dir);
    const stats = emptyStats();
    let root = target;
    let temp: { dir: string; createdParent?: string } | undefined;
    await sweepSiblingTempDirs(target); // staging directories of runs that were killed
    try {
      if (kind.kind === "layout") {
        await readIndexDocument(target, this.dir); // fail early on a broken index.json
        await sweepTempFiles(target); // partial blobs of runs that were killed
      } else {
        temp = await siblingTempDir(target);
        root = temp.dir;
        await writeFile(join(root, OCI_LAYOUT_FILE), encodeJson({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      }
      const store = new LayoutBlobStore(root, stats, opts?.progress, opts?.signal);
      const desc = await writeItem(store, item, opts);
      if (kind.kind === "layout") {
        // one writer of index.json at a time, so concurrent runs keep each other's tags
        await updateIndexDocument(
          root,
          this.dir,
          (doc) => addToLayoutIndex(doc, desc, this.tag),
          opts?.signal,
        );
      } else {
        await writeFileAtomic(
          join(root, INDEX_FILE),
          encodeJson(addToLayoutIndex(emptyLayoutIndex(), desc, this.tag)),
        );
      }
      if (temp) {
        await chmod(root, 0o755);
        await rename(root, target).catch((e: unknown) => {
          throw ioError(`cannot move the new OCI layout into place at ${this.dir}`, e);
        });
        keepStaged(root);
      }
      return {
        digest: item.digest,
        mediaType: item.mediaType,
        size: item.rawManifest.length,
        location: this.description,
        stats,
      };
    } catch (e) {
      if (temp) {
        await removeQuietly(temp.dir);
        await removeQuietly(temp.createdParent);
      }
      throw e;
    }
  }
}

async function inspectTarget(target: string, shown: string): Promise<Target> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "new" };
    throw ioError(`cannot access ${shown}`, e);
  }
  if (!st.isDirectory()) {
    throw new OcipatchError("IO", `${shown} exists and is not a directory, so it cannot be an OCI layout`);
  }
  const names = await readdir(target).catch((e: unknown) => {
    throw ioError(`cannot read ${shown}`, e);
  });
  if (names.includes(OCI_LAYOUT_FILE)) return { kind: "layout" };
  if (names.length === 0) return { kind: "new" };
  throw new OcipatchError(
    "IO",
    `${shown} is not empty and is not an OCI image layout (no ${OCI_LAYOUT_FILE} file); refusing to write into it`,
  );
}

/** Write an image or index with everything it references; returns its descriptor. */
async function writeItem(
  store: LayoutBlobStore,
  item: ImageOrIndex,
  opts?: WriteOptions,
): Promise<Descriptor> {
  if (digestLike(item.rawManifest, item.digest) !== item.digest) {
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `manifest of ${item.description} does not match its digest ${item.digest}`,
    );
  }
  if (item.kind === "image") {
    await writeImageContent(store, item, opts);
  } else {
    for (const child of item.children()) {
      const loaded = await child.load(opts);
      if (loaded.digest !== child.descriptor.digest) {
        throw new OcipatchError(
          "DIGEST_MISMATCH",
          `${item.description}: child ${child.descriptor.digest} loaded as ${loaded.digest}`,
        );
      }
      await writeItem(store, loaded, opts);
    }
  }
  const desc = descriptorOf(item);
  await store.putBytes(desc, item.rawManifest);
  return desc;
}

async function writeImageContent(store: LayoutBlobStore, image: Image, opts?: WriteOptions): Promise<void> {
  const config = await image.rawConfig(opts);
  await store.putBytes(image.manifest.config, config);
  const layers = await image.layers(opts);
  const descs = image.manifest.layers;
  if (layers.length !== descs.length || layers.some((l, i) => l.digest !== descs[i]!.digest)) {
    throw new OcipatchError("INTERNAL", `${image.description}: layers do not match the manifest`);
  }
  await forEachLimit(
    layers,
    LAYER_CONCURRENCY,
    (layer, signal) => store.put(layer.descriptor, () => layer.compressed({ signal })),
    opts?.signal,
  );
}
