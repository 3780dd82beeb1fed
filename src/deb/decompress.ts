import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { Duplex, PassThrough, type Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { DecompressStream } from "zstd-napi";
import { OcipatchError } from "../errors.js";

/** Compressions dpkg-deb uses for the control and data members of a .deb. */
export type DebCompression = "none" | "gzip" | "xz" | "lzma" | "zstd" | "bzip2";

const require = createRequire(import.meta.url);
const lzma = require("lzma-native") as { createDecompressor(options?: object): Transform };

/** The compression a member name announces (`data.tar.xz` → xz), undefined for other names. */
export function compressionOfMember(
  name: string,
  base: "control.tar" | "data.tar",
): DebCompression | undefined {
  if (name === base) return "none";
  if (!name.startsWith(`${base}.`)) return undefined;
  switch (name.slice(base.length + 1)) {
    case "gz":
      return "gzip";
    case "xz":
      return "xz";
    case "lzma":
      return "lzma";
    case "zst":
      return "zstd";
    case "bz2":
      return "bzip2";
    default:
      return undefined;
  }
}

/** Throws UNSUPPORTED for compressions ocipatch cannot read (without creating a decompressor). */
export function assertDebCompressionSupported(c: DebCompression, what: string): void {
  if (c === "bzip2") {
    throw new OcipatchError("UNSUPPORTED", `${what}: bzip2-compressed members are not supported`);
  }
}

/** A streaming decompressor; undefined for "none". */
export function debDecompressor(c: DebCompression, what: string): Transform | undefined {
  switch (c) {
    case "none":
      return undefined;
    case "gzip":
      return createGunzip();
    case "xz":
    case "lzma":
      return hostXzAvailable() ? hostXz(c, what) : lzma.createDecompressor({ threads: 1, bufsize: 1 << 20 });
    case "zstd":
      return new DecompressStream() as unknown as Transform;
    case "bzip2":
      throw new OcipatchError("UNSUPPORTED", `${what}: bzip2-compressed members are not supported`);
  }
}

let xzChecked: boolean | undefined;

/**
 * The host's `xz` (xz-utils, on every Debian/Ubuntu system) decodes about 3-4 times faster than
 * the lzma-native binding and in its own process, so ocipatch uses it when present
 * (`OCIPATCH_NO_HOST_XZ=1` forces the binding). Only this host tool runs; nothing from an image.
 */
function hostXzAvailable(): boolean {
  if (process.env["OCIPATCH_NO_HOST_XZ"] === "1") return false;
  xzChecked ??= spawnSync("xz", ["--version"], { stdio: "ignore" }).status === 0;
  return xzChecked;
}

function hostXz(c: "xz" | "lzma", what: string): Transform {
  const child = spawn("xz", ["--decompress", "--stdout", `--format=${c === "lzma" ? "lzma" : "xz"}`], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    if (stderr.length < 2000) stderr += b.toString("utf8");
  });
  child.stdout.pipe(out, { end: false });
  const fail = (msg: string) =>
    out.destroy(new OcipatchError("INVALID_FORMAT", `${what}: corrupt ${c} data: ${msg}`));
  child.on("error", (e) => fail(e.message));
  child.on("close", (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) fail(stderr.trim().split("\n").pop() || `xz exited with ${code ?? signal}`);
  });
  // EPIPE when the reader stops early (the entry iteration was abandoned): not an error of ours
  child.stdin.on("error", () => undefined);
  const duplex = Duplex.from({ writable: child.stdin, readable: out }) as Duplex;
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  };
  duplex.on("close", stop);
  out.on("close", stop);

  return duplex as unknown as Transform;
}
