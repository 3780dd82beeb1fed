import { chmod, lstat, mkdir, readdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import { descriptorOf, type Image, type ImageOrIndex } from "../../image/image.js";
import { type Descriptor, encodeJson } from "../../image/manifest.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { toOciMediaTypes } from "../../image/to-oci.js";
import { digestLike } from "../../util/digest.js";
import { withFileLock } from "../../util/file-lock.js";
import {
  innerTempDir,
  ioError,
  isTransientEntry,
  keepStaged,
  moveEntriesUp,
  removeCreatedParents,
  removeQuietly,
  resolveTarget,
  siblingTempDir,
  sweepSiblingTempDirs,
  writeFileAtomic,
} from "../atomic-fs.js";
import { forEachLimit } from "../concurrency.js";
import { LayoutBlobStore, sweepPartialBlobs } from "./blob-store.js";
import { readIndexDocument, updateIndexDocument } from "./index-file.js";
import { addToLayoutIndex, assertValidRefName, emptyLayoutIndex } from "./index-json.js";
import { INDEX_FILE, INDEX_LOCK, OCI_LAYOUT_FILE, OCI_LAYOUT_VERSION } from "./layout.js";

/** How many layers of one image are written at the same time. */
const LAYER_CONCURRENCY = 4;

type Target = { kind: "new" } | { kind: "empty" } | { kind: "layout" };

/** What a failed rename onto DIR means when DIR appeared meanwhile (another writer, a mount). */
const TARGET_APPEARED = new Set(["ENOTEMPTY", "EEXIST", "EBUSY", "EXDEV"]);

/**
 * An `ImageSink` writing into an OCI image layout directory (`oci:DIR[:TAG]`).
 *
 * - A new layout is built in a temporary sibling directory and renamed into place at
 *   the end, so a failure leaves nothing behind. When DIR is an existing empty directory
 *   (a mount point cannot be renamed over), it is built in a hidden directory inside DIR
 *   and its entries moved up at the end (`oci-layout` last); a failure leaves DIR empty.
 * - In an existing layout, blobs are added (existing ones with the right size are
 *   skipped) and `index.json` is replaced atomically as the very last step, so a
 *   failure leaves it untouched. A new layout whose DIR became a layout meanwhile (two
 *   runs creating it at once) is added to it the same way, so both keep their tags.
 * - A symlink as DIR is followed: the layout is written where it points.
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
    const target = await resolveTarget(this.dir, this.dir);
    const kind = await inspectSettled(target, this.dir, opts?.signal);
    const stats = emptyStats();
    const result = (): WriteResult => ({
      digest: item.digest,
      mediaType: item.mediaType,
      size: item.rawManifest.length,
      location: this.description,
      stats,
    });
    await sweepSiblingTempDirs(target); // staging directories of runs that were killed
    if (kind.kind === "layout") {
      await readIndexDocument(target, this.dir); // fail early on a broken index.json
      await sweepPartialBlobs(target); // partial blobs of runs that were killed
      const store = new LayoutBlobStore(target, stats, opts?.progress, opts?.signal);
      const desc = await writeItem(store, item, opts);
      // one writer of index.json at a time, so concurrent runs keep each other's tags
      await updateIndexDocument(
        target,
        this.dir,
        (doc) => addToLayoutIndex(doc, desc, this.tag),
        opts?.signal,
      );
      return result();
    }
    const temp: { dir: string; createdParent?: string } =
      kind.kind === "new" ? await siblingTempDir(target) : { dir: await innerTempDir(target, this.dir) };
    let committing = false;
    try {
      const root = temp.dir;
      await writeFile(join(root, OCI_LAYOUT_FILE), encodeJson({ imageLayoutVersion: OCI_LAYOUT_VERSION }));
      const store = new LayoutBlobStore(root, stats, opts?.progress, opts?.signal);
      const desc = await writeItem(store, item, opts);
      await writeFileAtomic(
        join(root, INDEX_FILE),
        encodeJson(addToLayoutIndex(emptyLayoutIndex(), desc, this.tag)),
      );
      committing = true; // from here DIR may hold another run's layout: its parents stay
      if (kind.kind === "new") {
        await chmod(root, 0o755);
        const renamed = await rename(root, target).then(
          () => true,
          (e: unknown) => {
            if (TARGET_APPEARED.has((e as NodeJS.ErrnoException).code ?? "")) return false;
            throw ioError(`cannot move the new OCI layout into place at ${this.dir}`, e);
          },
        );
        if (renamed) {
          keepStaged(root);
          return result();
        }
      }
      await commitInto(target, root, desc, this.tag, this.dir, opts?.signal);
      return result();
    } catch (e) {
      await removeQuietly(temp.dir);
      if (!committing) await removeCreatedParents(target, temp.createdParent);
      throw e;
    }
  }
}

/**
 * Put the layout staged at `staged` into the directory `target`, holding the layout's index
 * lock: moved up into it when `target` is still empty, or — when another run made it a
 * layout meanwhile — its blobs added and the manifest listed in `index.json` as a write into
 * an existing layout does.
 */
async function commitInto(
  target: string,
  staged: string,
  desc: Descriptor,
  tag: string | undefined,
  shown: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await withFileLock(
    join(target, INDEX_LOCK),
    `${shown}/${INDEX_FILE}`,
    async () => {
      const kind = await inspectTarget(target, shown);
      if (kind.kind !== "layout") {
        await moveEntriesUp(staged, target, shown, [INDEX_FILE, OCI_LAYOUT_FILE]);
        return;
      }
      await moveBlobs(staged, target, shown);
      const doc = await readIndexDocument(target, shown);
      await writeFileAtomic(join(target, INDEX_FILE), encodeJson(addToLayoutIndex(doc, desc, tag)));
      await removeQuietly(staged);
    },
    { signal },
  );
}

/** Move the blobs of the layout at `from` into the layout at `to`; those it has already stay. */
async function moveBlobs(from: string, to: string, shown: string): Promise<void> {
  try {
    for (const alg of await readdir(join(from, "blobs"))) {
      await mkdir(join(to, "blobs", alg), { recursive: true });
      for (const name of await readdir(join(from, "blobs", alg))) {
        const dest = join(to, "blobs", alg, name);
        const have = await stat(dest).catch(undefinedIfNotFound);
        const mine = await stat(join(from, "blobs", alg, name));
        if (have?.isFile() && have.size === mine.size) continue;
        await rename(join(from, "blobs", alg, name), dest);
      }
    }
  } catch (e) {
    throw ioError(`cannot add the new blobs to the OCI layout ${shown}`, e);
  }
}

/**
 * `inspectTarget`, waiting for a run filling DIR in place: while its entries move in (holding the
 * index lock) DIR is neither empty nor a layout yet, so a DIR refused while the lock is there is
 * inspected again under the lock.
 */
async function inspectSettled(
  target: string,
  shown: string,
  signal: AbortSignal | undefined,
): Promise<Target> {
  try {
    return await inspectTarget(target, shown);
  } catch (e) {
    if (
      !(await lstat(join(target, INDEX_LOCK)).then(
        () => true,
        () => false,
      ))
    )
      throw e;
    return withFileLock(
      join(target, INDEX_LOCK),
      `${shown}/${INDEX_FILE}`,
      () => inspectTarget(target, shown),
      {
        signal,
      },
    );
  }
}

/** A missing DIR, an empty one (ocipatch's own transient entries aside), or a layout. */
async function inspectTarget(target: string, shown: string): Promise<Target> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(target);
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
  if (names.every(isTransientEntry)) return { kind: "empty" };
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
