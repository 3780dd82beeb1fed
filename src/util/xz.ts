import { createRequire } from "node:module";
import type { Transform } from "node:stream";
import { isOcipatchError, OcipatchError } from "../errors.js";

let lzma: { createDecompressor(options?: object): Transform } | undefined;

/**
 * A streaming xz (or legacy lzma) decompressor: the lzma-native binding (liblzma; its prebuilt
 * binaries ship in its npm package), loaded on first use, decoding in libuv's thread pool. Corrupt
 * input is an INVALID_FORMAT error naming `what`.
 *
 * Not the host's `xz`, although that decodes faster on its own: starting a process forks ocipatch,
 * and after a fork every page the large parent writes faults again (copy-on-write). A cold
 * nginx-bullseye patch with its 19 large data.tar.xz decoded by `xz` used 1.1–1.5 s more system CPU
 * and built its layer 0.4–1.3 s slower than with every member decoded here (docs/BENCHMARKS.md).
 */
export function xzDecompressor(format: "xz" | "lzma", what: string): Transform {
  lzma ??= createRequire(import.meta.url)("lzma-native") as NonNullable<typeof lzma>;
  const d = lzma.createDecompressor({ threads: 1, bufsize: 1 << 20 });
  // the binding emits its errors itself (not through destroy): they are named on their way out
  const emit = d.emit.bind(d);
  d.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    const e = args[0];
    if (event !== "error" || isOcipatchError(e)) return emit(event, ...args);
    const raw = e instanceof Error ? e.message : String(e);
    // liblzma's LZMA_BUF_ERROR at the end of the input: the data stops mid-stream
    const msg = raw === "No progress is possible" ? "unexpected end of data" : raw;
    return emit(
      "error",
      new OcipatchError("INVALID_FORMAT", `${what}: corrupt ${format} data: ${msg}`, { cause: e }),
    );
  };
  return d;
}
