/** Test helpers: synthetic layers built with tar-stream, served from memory. */
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import * as tar from "tar-stream";
import type { Layer, OpenOptions } from "../../image/image.js";
import type { Descriptor } from "../../image/manifest.js";
import { type Compression, MediaTypes } from "../../image/media-types.js";
import { uncompressLayer } from "../../image/source.js";
import { type Digest, DigestStream, sha256 } from "../../util/digest.js";

export interface EntrySpec {
  readonly name: string;
  readonly type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  readonly content?: string | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Declared size overriding the content length (for forged headers). */
  readonly size?: number;
}

/** Build an uncompressed tar from entry specs (in order). */
export async function buildTar(entries: readonly EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    const type = e.type ?? "file";
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(0),
      ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      ...(type === "file" ? { size: e.size ?? content?.length ?? 0 } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === "file") pack.entry(header, content ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** zstd-compress with the real zstd tool (as the image tools that write zstd layers do). */
function zstdCompress(raw: Buffer): Buffer {
  return execFileSync("zstd", ["-c", "-q"], { input: raw, maxBuffer: 1 << 30 });
}

function compressBytes(raw: Buffer, c: Compression): Buffer {
  switch (c) {
    case "gzip":
      return gzipSync(raw);
    case "zstd":
      return zstdCompress(raw);
    case "none":
      return raw;
  }
}

/** A layer held in memory; counts how often its blob is opened. */
export class MemoryLayer implements Layer {
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly descriptor: Descriptor;
  readonly origin = undefined;
  opens = 0;

  constructor(
    readonly blob: Buffer,
    readonly compression: Compression,
    diffId: Digest,
  ) {
    this.digest = sha256(blob);
    this.diffId = diffId;
    this.size = blob.length;
    this.mediaType =
      compression === "gzip"
        ? MediaTypes.ociLayerGzip
        : compression === "zstd"
          ? MediaTypes.ociLayerZstd
          : MediaTypes.ociLayer;
    this.descriptor = { mediaType: this.mediaType, digest: this.digest, size: this.size };
  }

  static async of(entries: readonly EntrySpec[], compression: Compression = "gzip"): Promise<MemoryLayer> {
    const raw = await buildTar(entries);
    return MemoryLayer.fromTar(raw, compression);
  }

  static fromTar(raw: Buffer, compression: Compression = "gzip", diffId?: Digest): MemoryLayer {
    return new MemoryLayer(compressBytes(raw, compression), compression, diffId ?? sha256(raw));
  }

  async compressed(_opts?: OpenOptions): Promise<Readable> {
    this.opens++;
    const check = new DigestStream({ digest: this.digest, size: this.size, what: `layer ${this.digest}` });
    // Small chunks so streaming paths (backpressure, early stop) are exercised.
    const chunks: Buffer[] = [];
    for (let i = 0; i < this.blob.length; i += 16 * 1024) chunks.push(this.blob.subarray(i, i + 16 * 1024));
    return Readable.from(chunks).pipe(check);
  }

  async uncompressed(opts?: OpenOptions): Promise<Readable> {
    return uncompressLayer(
      await this.compressed(opts),
      this.compression,
      this.diffId,
      `layer ${this.digest}`,
    );
  }
}
