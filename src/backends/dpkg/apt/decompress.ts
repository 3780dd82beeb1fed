import { createRequire } from "node:module";
import { Readable, type Transform } from "node:stream";
import { OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { readAll } from "../../../util/streams.js";

type Lzma = { createDecompressor(options?: object): Transform };
let lzma: Lzma | undefined;

/** The lzma-native binding, loaded on first use (its prebuilt binaries ship in its npm package). */
function lzmaBinding(): Lzma {
  lzma ??= createRequire(import.meta.url)("lzma-native") as Lzma;
  return lzma;
}

export type IndexCompression = "xz" | "gz" | "none";

/** Decompress an index file (streaming through lzma-native / zlib), refusing absurd sizes. */
export async function decompressIndex(
  data: Buffer,
  compression: IndexCompression,
  where: string,
  limit = 1024 * 1024 * 1024,
): Promise<Buffer> {
  if (compression === "none") return data;
  const d = compression === "xz" ? lzmaBinding().createDecompressor() : gunzipStream();
  const src = Readable.from([data]);
  src.on("error", (e) => d.destroy(e));
  try {
    return await readAll(src.pipe(d), limit);
  } catch (e) {
    throw new OcipatchError("INVALID_FORMAT", `${where}: cannot decompress (${(e as Error).message})`, {
      cause: e,
    });
  }
}
