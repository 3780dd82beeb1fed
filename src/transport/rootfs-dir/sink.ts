import type { Stats } from "node:fs";
import { chmod, chown, lstat, readdir, rename, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { OcipatchError } from "../../errors.js";
import type { ImageOrIndex } from "../../image/image.js";
import { hostPlatform } from "../../image/platform.js";
import { selectImage } from "../../image/select.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { type ExtractStats, extractLayers } from "../../rootfs/extract.js";
import { withFileLock } from "../../util/file-lock.js";
import {
  DIRECTORY_LOCK,
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
 * inside it and its entries moved up at the end, under the directory's lock (`DIRECTORY_LOCK`,
 * as OCI layout writers take it), so that two runs into one DIR never mix their trees; a failure
 * leaves DIR empty. A symlink as DIR is followed. From an index, the host's platform.
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
        await fillInPlace(temp.dir, target, this.dir, opts?.signal);
      } else {
        await rename(temp.dir, target).catch(async (e: unknown) => {
          // another run's tree got there first: refused as at the start
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "ENOTEMPTY" || code === "EEXIST") await assertUsableDir(target, this.dir);
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
 * Move the tree staged at `staged` into the existing empty directory `target`, holding the
 * directory's lock: runs filling one directory at once take turns, and the later one finds it
 * filled and refuses, as it would have at its start (without the lock their entries mixed,
 * and the later one's roll-back removed entries of the earlier one). A failure setting DIR's
 * metadata leaves DIR as it was: empty.
 */
async function fillInPlace(
  staged: string,
  target: string,
  shown: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const root = await lstat(staged);
  await withFileLock(
    join(target, DIRECTORY_LOCK),
    shown,
    async () => {
      await assertUsableDir(target, shown);
      await moveEntriesUp(staged, target, shown, [], () => applyRootMetadata(target, root, shown));
    },
    { signal },
  );
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
