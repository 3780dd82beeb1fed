import type { Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import type { Compression } from "../image/media-types.js";
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

/** A streaming compressor for a layer compression. */
export function compressor(c: Compression, level?: number): Transform | undefined {
  switch (c) {
    case "gzip":
      return createGzip(level === undefined ? {} : { level });
    case "zstd":
      return zstdCompressor(level);
    case "none":
      return undefined;
  }
}
