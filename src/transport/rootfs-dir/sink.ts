import { chmod, lstat, readdir, rename, rmdir } from "node:fs/promises";
import { resolve } from "node:path";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { ImageOrIndex } from "../../image/image.js";
import { hostPlatform } from "../../image/platform.js";
import { selectImage } from "../../image/select.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { type ExtractStats, extractLayers } from "../../rootfs/extract.js";
import { ioError, keepStaged, removeQuietly, siblingTempDir } from "../atomic-fs.js";

/**
 * An `ImageSink` that extracts the image's root filesystem into a directory (kubescape
 * patch's `--output-mode local`; see `rootfs/extract.ts` for what is kept). The tree is
 * built in a temporary sibling directory and renamed onto DIR at the end, so a failure
 * leaves nothing; DIR must not exist or be empty. From an index, the host's platform.
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
    const target = resolve(this.dir);
    await assertUsableDir(target, this.dir);
    const image = item.kind === "image" ? item : await selectImage(item, hostPlatform(), opts);
    const temp = await siblingTempDir(target);
    try {
      this.lastStats = await extractLayers(await image.layers(opts), temp.dir, { signal: opts?.signal });
      await assertUsableDir(target, this.dir); // nothing appeared there meanwhile
      if ((await lstat(target).catch(undefinedIfNotFound)) !== undefined) {
        await rmdir(target).catch((e: unknown) => {
          throw ioError(`cannot replace the empty directory ${this.dir}`, e);
        });
      }
      // the root's mode came from the image (0755 unless it said otherwise)
      if ((await lstat(temp.dir)).mode % 0o1000 === 0o700) await chmod(temp.dir, 0o755);
      await rename(temp.dir, target).catch((e: unknown) => {
        throw ioError(`cannot move the extracted root filesystem into place at ${this.dir}`, e);
      });
      keepStaged(temp.dir);
    } catch (e) {
      await removeQuietly(temp.dir);
      await removeQuietly(temp.createdParent);
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

/** DIR may be missing or an empty directory; anything else is refused (one line). */
export async function assertUsableDir(target: string, shown: string): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
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
  if (names.length > 0) {
    throw new OcipatchError(
      "IO",
      `${shown} is not empty; refusing to extract the root filesystem into it (give a new or empty directory)`,
      { details: { option: "outputPath" } },
    );
  }
}
