import { createRequire } from "node:module";
import { Transform } from "node:stream";
import { OcipatchError } from "../errors.js";
import { hostFilter, hostToolAvailable } from "./host-filter.js";

/**
 * Zstandard streams without a compiled binding: the host `zstd` tool (zstd package, present on
 * Debian/Ubuntu build and CI machines) when it is there — it decodes several times faster than
 * JavaScript and runs on its own core — and otherwise fzstd (pure JavaScript) for decoding.
 * Writing zstd needs the host tool.
 */

interface FzstdDecompress {
  ondata: (data: Uint8Array, final: boolean) => void;
  push(chunk: Uint8Array, final?: boolean): void;
}
type FzstdModule = { Decompress: new () => FzstdDecompress };
let fzstd: FzstdModule | undefined;

/** A streaming zstd decoder; errors are INVALID_FORMAT naming `what`. */
export function zstdDecompressor(what = "zstd stream"): Transform {
  if (hostToolAvailable("zstd")) return hostFilter("zstd", ["-d", "-c", "-q"], `${what}: corrupt zstd data`);
  fzstd ??= createRequire(import.meta.url)("fzstd") as FzstdModule;
  const d = new fzstd.Decompress();
  let t: Transform | undefined;
  d.ondata = (data) => {
    if (data.length > 0) t?.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  };
  const fail = (e: unknown) =>
    new OcipatchError("INVALID_FORMAT", `${what}: corrupt zstd data: ${(e as Error).message}`, { cause: e });
  t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        d.push(chunk);
        cb();
      } catch (e) {
        cb(fail(e));
      }
    },
    flush(cb) {
      try {
        d.push(new Uint8Array(0), true);
        cb();
      } catch (e) {
        cb(fail(e));
      }
    },
  });
  return t;
}

/**
 * A streaming zstd encoder: host `zstd` at `level` with two worker threads — a fixed count, so
 * the output is the same on every machine with the same zstd version.
 */
export function zstdCompressor(level = 3, what = "zstd compression"): Transform {
  if (!hostToolAvailable("zstd")) {
    throw new OcipatchError(
      "UNSUPPORTED",
      `${what}: writing zstd needs the zstd program (Debian/Ubuntu package "zstd"); or use gzip`,
    );
  }
  return hostFilter("zstd", ["-c", "-q", "-T2", `-${level}`], what, "IO");
}
