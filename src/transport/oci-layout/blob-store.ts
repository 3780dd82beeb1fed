import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OcipatchError } from "../../errors.js";
import type { Descriptor } from "../../image/manifest.js";
import type { TransferStats } from "../../image/sink.js";
import { DigestStream, digestLike, hexOf } from "../../util/digest.js";
import { release, removeOnExit } from "../../util/owned-temp.js";
import type { ProgressListener } from "../../util/progress.js";
import { discard } from "../../util/streams.js";
import { ioError, sweepTempFiles, tempName } from "../atomic-fs.js";
import { blobPath } from "./layout.js";

type BlobDesc = Pick<Descriptor, "digest" | "size" | "mediaType">;

/**
 * The `blobs/` directory of an OCI layout being written. Blobs are streamed to a
 * temporary file in their own `blobs/<alg>/` directory (so the rename never crosses
 * file systems, even when `blobs/` is a mount or a symlink to another one), verified
 * against their descriptor and renamed into place; a blob that already exists with the
 * right size is skipped.
 */
export class LayoutBlobStore {
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    readonly root: string,
    private readonly stats: TransferStats,
    private readonly progress: ProgressListener | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Write a blob unless present; `open` is only called when the blob must be written. */
  put(desc: BlobDesc, open: () => Promise<Readable>): Promise<void> {
    let p = this.inFlight.get(desc.digest);
    if (!p) {
      p = this.putOnce(desc, open);
      this.inFlight.set(desc.digest, p);
    }
    return p;
  }

  putBytes(desc: BlobDesc, bytes: Buffer): Promise<void> {
    if (bytes.length !== desc.size || digestLike(bytes, desc.digest) !== desc.digest) {
      return Promise.reject(
        new OcipatchError("DIGEST_MISMATCH", `content for ${desc.digest} does not match its digest or size`),
      );
    }
    return this.put(desc, async () => Readable.from([bytes]));
  }

  private async exists(desc: BlobDesc): Promise<boolean> {
    try {
      const s = await stat(blobPath(this.root, desc.digest));
      return s.isFile() && s.size === desc.size;
    } catch {
      return false;
    }
  }

  private async putOnce(desc: BlobDesc, open: () => Promise<Readable>): Promise<void> {
    if (await this.exists(desc)) {
      this.stats.blobsSkipped++;
      this.progress?.blobStart?.(desc, "exists");
      this.progress?.blobDone?.(desc, "exists");
      return;
    }
    const dir = dirname(blobPath(this.root, desc.digest)); // blobs/sha256 or blobs/sha512
    await mkdir(dir, { recursive: true }).catch((e: unknown) => {
      throw ioError(`cannot create ${dir}`, e);
    });
    const tmp = tempName(dir, hexOf(desc.digest).slice(0, 12));
    removeOnExit(tmp);
    this.progress?.blobStart?.(desc, "write");
    let out: WriteStream | undefined;
    try {
      const src = await open();
      // a source stream that verifies this blob already (a registry's or layout's) is not hashed twice
      const checked =
        src instanceof DigestStream && src.checks(desc.digest, desc.size)
          ? [src]
          : [src, new DigestStream({ digest: desc.digest, size: desc.size, what: `blob ${desc.digest}` })];
      out = createWriteStream(tmp, { flags: "wx" });
      await pipeline([...checked, this.counter(desc), out], this.signal ? { signal: this.signal } : {});
      await rename(tmp, blobPath(this.root, desc.digest));
    } catch (e) {
      if (out) await discard(out);
      await rm(tmp, { force: true }).catch(() => {});
      if (e instanceof OcipatchError) throw e;
      if ((e as Error | undefined)?.name === "AbortError") {
        throw new OcipatchError("CANCELLED", `writing blob ${desc.digest} was cancelled`, { cause: e });
      }
      throw ioError(`cannot write blob ${desc.digest} to ${this.root}`, e);
    } finally {
      release(tmp);
    }
    this.stats.blobsUploaded++;
    this.stats.bytesUploaded += desc.size;
    this.progress?.blobDone?.(desc, "write");
  }

  private counter(desc: BlobDesc): Transform {
    let done = 0;
    const progress = this.progress;
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        done += chunk.length;
        progress?.blobProgress?.(desc, done);
        cb(null, chunk);
      },
    });
  }
}

/**
 * Remove the partial blobs runs that were killed left in the layout at `root`: in
 * `blobs/<alg>/`, and in the layout root, where earlier versions wrote them.
 */
export async function sweepPartialBlobs(root: string): Promise<void> {
  await sweepTempFiles(root);
  const algs = await readdir(join(root, "blobs")).catch(() => [] as string[]);
  for (const alg of algs) await sweepTempFiles(join(root, "blobs", alg));
}
