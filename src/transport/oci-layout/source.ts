import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { ImageOrIndex, OpenOptions } from "../../image/image.js";
import { blobReadOptions } from "../../image/local-blob.js";
import { type Descriptor, parseIndexManifest } from "../../image/manifest.js";
import { type ContentSource, fromRawManifest, type RawManifest, verifyBytes } from "../../image/source.js";
import { waitForUnlock } from "../../util/file-lock.js";
import { DEFAULT_HOST_FILE_MAX_BYTES, openRegularFile, readRegularFile } from "../../util/regular-file.js";
import { blobPath, INDEX_FILE, INDEX_LOCK, OCI_LAYOUT_FILE, REF_NAME_ANNOTATION } from "./layout.js";

/** Reads blobs from an OCI image layout directory. */
class OciLayoutSource implements ContentSource {
  readonly description: string;
  readonly origin = undefined;

  constructor(readonly dir: string) {
    this.description = `oci:${dir}`;
  }

  private async readBlobFile(desc: Descriptor): Promise<Buffer> {
    try {
      // a bounded regular file; a larger one than its descriptor fails verification (or this cap)
      const cap = Math.max(desc.size + 1, DEFAULT_HOST_FILE_MAX_BYTES);
      return await readRegularFile(blobPath(this.dir, desc.digest), cap, { what: "OCI layout blob" });
    } catch (e) {
      if (!isOcipatchError(e, "NOT_FOUND")) throw e;
      throw notFound(this.dir, desc, e);
    }
  }

  async fetchManifest(desc: Descriptor): Promise<RawManifest> {
    const bytes = await this.readBlobFile(desc);
    return { bytes, mediaType: desc.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, opts?: OpenOptions): Promise<Readable> {
    const p = blobPath(this.dir, desc.digest);
    let fh: Awaited<ReturnType<typeof openRegularFile>>;
    try {
      // a regular file only (a FIFO is refused without blocking); its bytes are verified by the reader
      fh = await openRegularFile(p, { what: "OCI layout blob" });
    } catch (e) {
      if (!isOcipatchError(e, "NOT_FOUND")) throw e;
      throw notFound(this.dir, desc, e);
    }
    return fh.createReadStream(blobReadOptions(opts?.signal));
  }

  readBlob(desc: Descriptor): Promise<Buffer> {
    return this.readBlobFile(desc);
  }
}

function notFound(dir: string, desc: Descriptor, cause: unknown): OcipatchError {
  return new OcipatchError("NOT_FOUND", `blob ${desc.digest} not found in OCI layout ${dir}`, { cause });
}

/**
 * Read `index.json` of a layout (validated). A DIR without `oci-layout` whose lock a live run
 * holds is being filled in place by it (`oci-layout` moves in last): read once that run is done.
 */
export async function readLayoutIndex(dir: string) {
  const hasLayoutFile = () =>
    stat(join(dir, OCI_LAYOUT_FILE)).then(
      () => undefined,
      (e: unknown) => e,
    );
  let missing = await hasLayoutFile();
  if (missing !== undefined && (await waitForUnlock(join(dir, INDEX_LOCK), `${dir}/${INDEX_FILE}`))) {
    missing = await hasLayoutFile();
  }
  if (missing !== undefined) {
    throw new OcipatchError("NOT_FOUND", `${dir} is not an OCI image layout (no ${OCI_LAYOUT_FILE} file)`, {
      cause: missing,
    });
  }
  const raw = await readRegularFile(join(dir, INDEX_FILE), DEFAULT_HOST_FILE_MAX_BYTES).catch(
    (e: unknown) => {
      if (!isOcipatchError(e, "NOT_FOUND")) throw e;
      throw new OcipatchError("NOT_FOUND", `${dir} has no ${INDEX_FILE}`, { cause: e });
    },
  );
  return parseIndexManifest(raw, `${dir}/${INDEX_FILE}`);
}

/**
 * Open the image (or index) an OCI layout holds under `tag` (the
 * `org.opencontainers.image.ref.name` annotation). Without a tag, the layout must
 * hold exactly one manifest.
 */
export async function openOciLayout(dir: string, tag?: string): Promise<ImageOrIndex> {
  const index = await readLayoutIndex(dir);
  const desc = selectLayoutEntry(index.manifests, tag, `OCI layout ${dir}`, `oci:${dir}:TAG`);
  const source = new OciLayoutSource(dir);
  const raw = await source.fetchManifest(desc);
  verifyBytes(raw.bytes, desc, `manifest ${desc.digest} in ${dir}`);
  return fromRawManifest(source, raw);
}

/** The `index.json` entry named `tag` (ref.name annotation), or the only entry. */
export function selectLayoutEntry(
  manifests: readonly Descriptor[],
  tag: string | undefined,
  shown: string,
  syntax: string,
): Descriptor {
  let entries = manifests;
  if (tag !== undefined) {
    entries = entries.filter((m) => m.annotations?.[REF_NAME_ANNOTATION] === tag);
    if (entries.length === 0) throw new OcipatchError("NOT_FOUND", `tag "${tag}" not found in ${shown}`);
  } else if (entries.length !== 1) {
    throw new OcipatchError("USAGE", `${shown} holds ${entries.length} manifests; name one with ${syntax}`);
  }
  return entries[0]!;
}
