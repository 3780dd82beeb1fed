import type { Transform } from "node:stream";
import { OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { xzDecompressor } from "../../../util/xz.js";
import { zstdDecompressor } from "../../../util/zstd.js";

/** Compressions dpkg-deb uses for the control and data members of a .deb. */
export type DebCompression = "none" | "gzip" | "xz" | "lzma" | "zstd" | "bzip2";

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

/** A streaming decompressor; undefined for "none". `compressedSize`: the member's, when known. */
export function debDecompressor(
  c: DebCompression,
  what: string,
  compressedSize?: number,
): Transform | undefined {
  switch (c) {
    case "none":
      return undefined;
    case "gzip":
      return gunzipStream();
    case "xz":
    case "lzma":
      return xzDecompressor(c, what);
    case "zstd":
      return zstdDecompressor(what, compressedSize);
    case "bzip2":
      throw new OcipatchError("UNSUPPORTED", `${what}: bzip2-compressed members are not supported`);
  }
}
