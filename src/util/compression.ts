import type { Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Compression } from "../image/media-types.js";
import { hostToolAvailable, hostToolVersion } from "./host-filter.js";
import { hostLiblzma } from "./host-lib/liblzma.js";
import { hostLibzstd } from "./host-lib/libzstd.js";
import { parallelGzip } from "./parallel-gzip.js";
import { zstdCompressor, zstdDecompressor } from "./zstd.js";

/**
 * Output piece of the gzip decompressor: zlib's default (16 KiB) costs one thread-pool round trip
 * per 16 KiB; 256 KiB pieces read a layer ~1.9x faster (bench: 84 MB tar, 0.39 s → 0.20 s). 1 MiB
 * pieces scanned nginx-bullseye 0.05 s faster still, but raised ubuntu-noble `patch --all`'s peak
 * RSS by ~10 MiB, to 248 MB at most, at the 250 MB limit (docs/BENCHMARKS.md, thirteenth session).
 */
const GUNZIP_CHUNK = 256 * 1024;

/** A streaming gzip decompressor with large output pieces (layers, .deb members, indices, rpm payloads). */
export function gunzipStream(): Transform {
  return createGunzip({ chunkSize: GUNZIP_CHUNK });
}

/** A streaming decompressor for a layer compression. */
export function decompressor(c: Compression): Transform | undefined {
  switch (c) {
    case "gzip":
      return gunzipStream();
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

/**
 * What the bytes `compressor(c)` writes depend on besides its input and level: the zlib that
 * Node carries (gzip), the host zstd's version (zstd). Undefined when there is no zstd.
 */
export function compressorIdentity(c: Compression): string | undefined {
  switch (c) {
    case "gzip":
      return `zlib ${process.versions.zlib}`;
    case "zstd":
      return hostToolVersion("zstd");
    case "none":
      return "none";
  }
}

/** Who decodes xz and zstd here, in one line (`--debug`): the host's libraries or the bundled decoders. */
export function decodersLine(): string {
  const lzma = hostLiblzma();
  const zstd = hostLibzstd();
  const xz = lzma ? `the host's liblzma ${lzma.version}` : "lzma-native (bundled)";
  const zst = zstd
    ? `the host's libzstd ${zstd.version}`
    : `fzstd (bundled)${hostToolAvailable("zstd") ? ", the host's zstd program for large inputs" : ""}`;
  return `decoders: xz by ${xz}; zstd by ${zst}`;
}
