import { createRequire } from "node:module";
import { Readable, type Transform } from "node:stream";
import { createGunzip } from "node:zlib";
import { OcipatchError } from "../errors.js";
import { readAll } from "../util/streams.js";

const require = createRequire(import.meta.url);
const lzma = require("lzma-native") as { createDecompressor(options?: object): Transform };

export type IndexCompression = "xz" | "gz" | "none";

/** Decompress an index file (streaming through lzma-native / zlib), refusing absurd sizes. */
export async function decompressIndex(
  data: Buffer,
  compression: IndexCompression,
  where: string,
  limit = 1024 * 1024 * 1024,
): Promise<Buffer> {
  if (compression === "none") return data;
  const d = compression === "xz" ? lzma.createDecompressor() : createGunzip();
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
