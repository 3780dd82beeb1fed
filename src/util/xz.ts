import { createRequire } from "node:module";
import type { Transform } from "node:stream";
import { hostFilter, hostToolAvailable } from "./host-filter.js";

let lzma: { createDecompressor(options?: object): Transform } | undefined;

/**
 * Compressed inputs up to this size are decoded in-process: starting a process blocks the event
 * loop for ~5 ms (fork of a large process), more than the binding takes for them (a .deb's
 * control.tar.xz, the data of small packages).
 */
export const SMALL_XZ_INPUT = 256 * 1024;

/**
 * A streaming xz (or legacy lzma) decompressor. The host's `xz` (xz-utils, on every Debian/Ubuntu
 * system) decodes about 3-4 times faster than the lzma-native binding and in its own process, so
 * ocipatch uses it when present (`OCIPATCH_NO_HOST_XZ=1` forces the binding, loaded only then),
 * except for inputs known to be small (`compressedSize` up to SMALL_XZ_INPUT).
 * `what` names the data in the error for corrupt input.
 */
export function xzDecompressor(format: "xz" | "lzma", what: string, compressedSize?: number): Transform {
  const small = compressedSize !== undefined && compressedSize <= SMALL_XZ_INPUT;
  if (!small && hostToolAvailable("xz")) {
    return hostFilter(
      "xz",
      ["--decompress", "--stdout", `--format=${format}`],
      `${what}: corrupt ${format} data`,
    );
  }
  lzma ??= createRequire(import.meta.url)("lzma-native") as NonNullable<typeof lzma>;
  return lzma.createDecompressor({ threads: 1, bufsize: 1 << 20 });
}
