import type { Stats } from "node:fs";
import { chmod, chown, lstat, readdir, rename, stat, utimes } from "node:fs/promises";
import { OcipatchError } from "../../errors.js";
import type { ImageOrIndex } from "../../image/image.js";
import { hostPlatform } from "../../image/platform.js";
import { selectImage } from "../../image/select.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { type ExtractStats, extractLayers } from "../../rootfs/extract.js";
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
} from "../atomic-fs.js";

/**
 * An `ImageSink` that extracts the image's root filesystem into a directory (kubescape
 * patch's `--output-mode local`; see `rootfs/extract.ts` for what is kept). The tree is
 * built in a temporary sibling directory and renamed onto DIR at the end, so a failure
 * leaves nothing; DIR must not exist or be empty. An existing empty DIR (a mount point
 * cannot be renamed over) is filled in place: the tree is built in a hidden directory
 * inside it and its entries moved up at the end; a failure leaves DIR empty. A symlink as
 * DIR is followed. From an index, the host's platform.
 */
export function rootfsDirSink(dir: string): RootfsDirSink {
  return new RootfsDirSink(dir);
}

class RootfsDirSink implements ImageSink {
  readonly description: string;
  /** What the last write extracted (skipped device nodes and FIFOs are counted there). */
  lastStats: ExtractStats | undefined;

  constructor(readonly dir: string) {
    this.description = dir;
  }

  async write(item: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult> {
    const target = await resolveTarget(this.dir, this.dir);
    const existed = await assertUsableDir(target, this.dir);
    const image = item.kind === "image" ? item : await selectImage(item, hostPlatform(), opts);
    // an existing empty directory (a mount point cannot be renamed over) is filled in place
    const temp: { dir: string; createdParent?: string } = existed
      ? { dir: await innerTempDir(target, this.dir) }
      : await siblingTempDir(target);
    try {
      this.lastStats = await extractLayers(await image.layers(opts), temp.dir, { signal: opts?.signal });
      // the root's mode came from the image (0755 unless it said otherwise)
      if ((await lstat(temp.dir)).mode % 0o1000 === 0o700) await chmod(temp.dir, 0o755);
      // nothing appeared there meanwhile; DIR may have been created empty
      if (await assertUsableDir(target, this.dir)) {
        const root = await lstat(temp.dir);
        // a failure setting DIR's metadata leaves DIR as it was: empty
        await moveEntriesUp(temp.dir, target, this.dir, [], () => applyRootMetadata(target, root, this.dir));
      } else {
        await rename(temp.dir, target).catch((e: unknown) => {
          throw ioError(`cannot move the extracted root filesystem into place at ${this.dir}`, e);
        });
        keepStaged(temp.dir);
      }
    } catch (e) {
      await removeQuietly(temp.dir);
      await removeCreatedParents(target, temp.createdParent);
      throw e;
    }
    return {
      digest: image.digest,
      mediaType: image.mediaType,
      size: image.rawManifest.length,
      location: this.dir,
      stats: emptyStats(),
    };
  }
}

/**
 * The image root's mode, owner (as root) and times, given to DIR filled in place — by its owner
 * or root only: a directory another user lets this one write into keeps its own (as `tar -x` does).
 */
async function applyRootMetadata(target: string, root: Stats, shown: string): Promise<void> {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && (await stat(target)).uid !== uid) return;
  try {
    await chmod(target, root.mode & 0o7777);
    if (process.getuid?.() === 0) await chown(target, root.uid, root.gid);
    await utimes(target, root.atime, root.mtime);
  } catch (e) {
    throw ioError(`cannot set the mode, owner and times of ${shown}`, e);
  }
}

/**
 * DIR may be missing or an empty directory (ocipatch's own transient entries aside);
 * anything else is refused (one line). A symlink to a directory counts as that directory.
 * Returns whether DIR exists.
 */
export async function assertUsableDir(target: string, shown: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await stat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw ioError(`cannot access ${shown}`, e);
  }
  if (!st.isDirectory()) {
    throw new OcipatchError(
      "IO",
      `${shown} exists and is not a directory; refusing to extract the root filesystem there`,
      {
        details: { option: "outputPath" },
      },
    );
  }
  const names = await readdir(target).catch((e: unknown) => {
    throw ioError(`cannot read ${shown}`, e);
  });
  if (names.some((n) => !isTransientEntry(n))) {
    throw new OcipatchError(
      "IO",
      `${shown} is not empty; refusing to extract the root filesystem into it (give a new or empty directory)`,
      { details: { option: "outputPath" } },
    );
  }
  return true;
}
