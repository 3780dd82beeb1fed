import type { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Compression } from "../image/media-types.js";
import { parallelGzip } from "./parallel-gzip.js";
import { zstdCompressor, zstdDecompressor } from "./zstd.js";

/** A streaming decompressor for a layer compression. */
export function decompressor(c: Compression): Transform | undefined {
  switch (c) {
    case "gzip":
      return createGunzip();
    case "zstd":
      return zstdDecompressor("zstd layer");
    case "none":
      return undefined;
  }
}

/**
 * A streaming compressor for a layer compression, using both cores (gzip members deflated in
 * parallel; zstd in the host tool with two threads). Same input → same bytes.
 */
export function compressor(c: Compression, level?: number): Transform | undefined {
  switch (c) {
    case "gzip":
      return parallelGzip(level);
    case "zstd":
      return zstdCompressor(level);
    case "none":
      return undefined;
  }
}
