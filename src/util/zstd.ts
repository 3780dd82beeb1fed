import { createRequire } from "node:module";
import { Transform } from "node:stream";
import { OcipatchError } from "../errors.js";
import { hostFilter, hostToolAvailable } from "./host-filter.js";
import { hostLibzstd, libzstdDecoder } from "./host-lib/libzstd.js";

/**
 * Zstandard streams: the host's libzstd when it loads (through koffi, in libuv's thread pool;
 * every Debian and Ubuntu system has it, apt and dpkg need it), else the host `zstd` tool or fzstd
 * (pure JavaScript) as `zstdEngine` says. Writing zstd needs the host tool.
 */

/**
 * Without libzstd, inputs known to be at most this large are decoded in-process (fzstd) even when
 * the host tool is there. Starting a process forks ocipatch, and after a fork every page the large
 * parent writes faults again (copy-on-write): a cold ubuntu-noble patch (68 zstd .debs, ~450 MB
 * resident) built its layer in 4.0–4.6 s with every member decoded by fzstd, 7.0–8.2 s with `zstd`
 * started for each (5 s more system CPU). fzstd decodes ~110 MB/s here, so a larger input still goes
 * to the tool. fzstd does not check a frame's content checksum (libzstd and the tool do): the
 * callers that pass a size (.deb members, rpm payloads) read packages verified against their signed
 * index already.
 */
export const ZSTD_IN_PROCESS_MAX = 4 * 1024 * 1024;

/** Who decodes zstd: the host's libzstd, the host's `zstd` program, or fzstd. */
export type ZstdEngine = "libzstd" | "zstd" | "fzstd";

/**
 * The engine for an input of `compressedSize` bytes (undefined: not known), given what the host
 * `has` (default: looked up here).
 */
export function zstdEngine(
  compressedSize?: number,
  has: { readonly libzstd: boolean; readonly tool: boolean } = {
    libzstd: hostLibzstd() !== undefined,
    tool: hostToolAvailable("zstd"),
  },
): ZstdEngine {
  if (has.libzstd) return "libzstd";
  const small = compressedSize !== undefined && compressedSize <= ZSTD_IN_PROCESS_MAX;
  return !small && has.tool ? "zstd" : "fzstd";
}

interface FzstdDecompress {
  ondata: (data: Uint8Array, final: boolean) => void;
  push(chunk: Uint8Array, final?: boolean): void;
}
type FzstdModule = { Decompress: new () => FzstdDecompress };
let fzstd: FzstdModule | undefined;

function fzstdDecoder(fail: (e: unknown) => Error): Transform {
  fzstd ??= createRequire(import.meta.url)("fzstd") as FzstdModule;
  const d = new fzstd.Decompress();
  let t: Transform | undefined;
  d.ondata = (data) => {
    if (data.length > 0) t?.push(Buffer.from(data.buffer, data.byteOffset, data.length));
  };
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
 * A streaming zstd decoder; errors are INVALID_FORMAT naming `what`. `compressedSize`: the input's,
 * when known (see ZSTD_IN_PROCESS_MAX).
 */
export function zstdDecompressor(
  what = "zstd stream",
  compressedSize?: number,
  engine: ZstdEngine = zstdEngine(compressedSize),
): Transform {
  const corrupt = (message: string, cause?: unknown) =>
    new OcipatchError("INVALID_FORMAT", `${what}: corrupt zstd data: ${message}`, { cause });
  if (engine === "libzstd" && hostLibzstd() !== undefined) return libzstdDecoder(corrupt);
  if (engine === "zstd" && hostToolAvailable("zstd"))
    return hostFilter("zstd", ["-d", "-c", "-q"], `${what}: corrupt zstd data`);
  return fzstdDecoder((e) => corrupt((e as Error).message, e));
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
