import { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { readAll } from "../../../util/streams.js";
import { xzDecompressor } from "../../../util/xz.js";

export type IndexCompression = "xz" | "gz" | "none";

/** Decompress an index file (streaming through lzma-native / zlib), refusing absurd sizes. */
export async function decompressIndex(
  data: Buffer,
  compression: IndexCompression,
  where: string,
  limit = 1024 * 1024 * 1024,
): Promise<Buffer> {
  if (compression === "none") return data;
  const d = compression === "xz" ? xzDecompressor("xz", where) : gunzipStream();
  const src = Readable.from([data]);
  src.on("error", (e) => d.destroy(e));
  try {
    return await readAll(src.pipe(d), limit);
  } catch (e) {
    // the xz decoder's own error names the file already
    if (isOcipatchError(e) && e.message.startsWith(`${where}: `)) throw e;
    throw new OcipatchError("INVALID_FORMAT", `${where}: cannot decompress (${(e as Error).message})`, {
      cause: e,
    });
  }
}
