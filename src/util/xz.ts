import { createRequire } from "node:module";
import type { Transform } from "node:stream";
import { isOcipatchError, OcipatchError } from "../errors.js";
import { hostLiblzma, liblzmaDecoder, type XzFormat } from "./host-lib/liblzma.js";

export type { XzFormat } from "./host-lib/liblzma.js";

/** Who decodes xz: the host's liblzma when it loads, else the lzma-native binding. */
export type XzEngine = "liblzma" | "lzma-native";

/**
 * The engine `xzDecompressor` takes by default: the host's liblzma 5 when it loads (Debian's 5.4
 * decodes nginx-bullseye's 39 data.tar.xz in a third less CPU than lzma-native's bundled 5.2,
 * docs/BENCHMARKS.md), else lzma-native, whose prebuilt binaries ship in its npm package.
 */
export function xzEngine(): XzEngine {
  return hostLiblzma() === undefined ? "lzma-native" : "liblzma";
}

let lzma: { createDecompressor(options?: object): Transform } | undefined;

/** lzma-native's decoder (liblzma 5.2 in its own binary), loaded on first use. */
function lzmaNativeDecoder(corrupt: (message: string, cause: unknown) => Error): Transform {
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
    return emit("error", corrupt(msg, e));
  };
  return d;
}

/**
 * A streaming xz (or legacy lzma) decompressor, decoding in libuv's thread pool (see `xzEngine`).
 * Corrupt input is an INVALID_FORMAT error naming `what`.
 *
 * Not the host's `xz`, although that decodes as fast as its liblzma: starting a process forks
 * ocipatch, and after a fork every page the large parent writes faults again (copy-on-write). A
 * cold nginx-bullseye patch with its 19 large data.tar.xz decoded by `xz` used 1.1–1.5 s more
 * system CPU and built its layer 0.4–1.3 s slower than with every member decoded in-process
 * (docs/BENCHMARKS.md).
 */
export function xzDecompressor(format: XzFormat, what: string, engine: XzEngine = xzEngine()): Transform {
  const corrupt = (message: string, cause?: unknown) =>
    new OcipatchError("INVALID_FORMAT", `${what}: corrupt ${format} data: ${message}`, { cause });
  return engine === "liblzma" && hostLiblzma() !== undefined
    ? liblzmaDecoder(format, corrupt)
    : lzmaNativeDecoder(corrupt);
}
