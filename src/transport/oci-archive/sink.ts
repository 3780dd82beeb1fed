import { createReadStream, createWriteStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { ImageOrIndex } from "../../image/image.js";
import type { ImageSink, WriteOptions, WriteResult } from "../../image/sink.js";
import {
  ioError,
  removeCreatedParents,
  removeQuietly,
  replaceFile,
  resolveTarget,
  siblingTempDir,
} from "../atomic-fs.js";
import { addEntry, addFile } from "../docker-archive/sink.js";
import { INDEX_FILE, OCI_LAYOUT_FILE } from "../oci-layout/layout.js";
import { ociLayoutSink } from "../oci-layout/sink.js";

/**
 * An `ImageSink` writing an OCI archive (`oci-archive:FILE[:TAG]`): an OCI image layout
 * is written into a temporary directory next to FILE, streamed into a tar there and
 * renamed onto FILE, so a failure leaves no output and an existing FILE is replaced
 * whole (as skopeo does). A FILE that is a mount point is written in place (`replaceFile`).
 */
export function ociArchiveSink(file: string, tag?: string): ImageSink {
  return new OciArchiveSink(file, tag);
}

class OciArchiveSink implements ImageSink {
  readonly description: string;

  constructor(
    readonly file: string,
    readonly tag?: string,
  ) {
    this.description = `oci-archive:${file}${tag === undefined ? "" : `:${tag}`}`;
  }

  async write(item: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult> {
    // a symlink is written through (as skopeo does), not replaced by a file
    const target = await resolveTarget(this.file, this.file);
    const existing = await stat(target)
      .catch(undefinedIfNotFound)
      .catch((e: unknown) => {
        throw ioError(`cannot write ${this.file}`, e);
      });
    if (existing?.isDirectory()) {
      throw new OcipatchError("IO", `${this.file} is a directory; an OCI archive is a file`);
    }
    const temp = await siblingTempDir(target);
    try {
      const layout = join(temp.dir, "layout");
      const result = await ociLayoutSink(layout, this.tag).write(item, opts);
      const archive = join(temp.dir, "archive.tar");
      await tarLayout(layout, archive);
      await replaceFile(archive, target, this.file, "OCI archive");
      return { ...result, location: this.description };
    } catch (e) {
      await removeQuietly(temp.dir);
      await removeCreatedParents(target, temp.createdParent);
      throw e;
    } finally {
      await removeQuietly(temp.dir);
    }
  }
}

/** Stream an OCI layout directory into a tar: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`. */
async function tarLayout(dir: string, file: string): Promise<void> {
  const pack = tar.pack();
  const out = pipeline(pack, createWriteStream(file, { flags: "wx" }));
  out.catch(() => {}); // awaited below
  try {
    await addEntry(pack, { name: "blobs/", type: "directory", mode: 0o755 });
    for (const alg of (await readdir(join(dir, "blobs"))).sort()) {
      await addEntry(pack, { name: `blobs/${alg}/`, type: "directory", mode: 0o755 });
      for (const name of (await readdir(join(dir, "blobs", alg))).sort()) {
        const p = join(dir, "blobs", alg, name);
        const st = await stat(p);
        await addFile(pack, `blobs/${alg}/${name}`, st.size, createReadStream(p));
      }
    }
    for (const name of [OCI_LAYOUT_FILE, INDEX_FILE]) {
      const p = join(dir, name);
      await addFile(pack, name, (await stat(p)).size, createReadStream(p));
    }
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await out.catch(() => {}); // the stream's end: `e` is the failure reported
    throw ioError(`cannot write ${file}`, e);
  }
  await out.catch((e: unknown) => {
    throw ioError(`cannot write ${file}`, e);
  });
}
