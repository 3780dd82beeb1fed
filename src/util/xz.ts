import { createRequire } from "node:module";
import type { Transform } from "node:stream";
import { hostFilter, hostToolAvailable } from "./host-filter.js";

let lzma: { createDecompressor(options?: object): Transform } | undefined;

/**
 * A streaming xz (or legacy lzma) decompressor. The host's `xz` (xz-utils, on every Debian/Ubuntu
 * system) decodes about 3-4 times faster than the lzma-native binding and in its own process, so
 * ocipatch uses it when present (`OCIPATCH_NO_HOST_XZ=1` forces the binding, loaded only then).
 * `what` names the data in the error for corrupt input.
 */
export function xzDecompressor(format: "xz" | "lzma", what: string): Transform {
  if (hostToolAvailable("xz")) {
    return hostFilter(
      "xz",
      ["--decompress", "--stdout", `--format=${format}`],
      `${what}: corrupt ${format} data`,
    );
  }
  lzma ??= createRequire(import.meta.url)("lzma-native") as NonNullable<typeof lzma>;
  return lzma.createDecompressor({ threads: 1, bufsize: 1 << 20 });
}
