import type { Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { CompressStream, DecompressStream } from "zstd-napi";
import type { Compression } from "../image/media-types.js";

/** A streaming decompressor for a layer compression. */
export function decompressor(c: Compression): Transform | undefined {
  switch (c) {
    case "gzip":
      return createGunzip();
    case "zstd":
      return new DecompressStream() as unknown as Transform;
    case "none":
      return undefined;
  }
}

/** A streaming compressor for a layer compression. */
export function compressor(c: Compression, level?: number): Transform | undefined {
  switch (c) {
    case "gzip":
      return createGzip(level === undefined ? {} : { level });
    case "zstd":
      return new CompressStream(
        level === undefined ? {} : { compressionLevel: level },
      ) as unknown as Transform;
    case "none":
      return undefined;
  }
}
