import { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { readAll } from "../../../util/streams.js";
import { xzDecompressor } from "../../../util/xz.js";

export type IndexCompression = "xz" | "gz" | "none";

/**
 * Decompress an index file (streaming through lzma-native / zlib), refusing absurd sizes. With the
 * size the signed Release gives the content, it is decoded into one buffer of that size (a 73 MB
 * index is not held twice, as pieces and joined); more than that is refused.
 */
export async function decompressIndex(
  data: Buffer,
  compression: IndexCompression,
  where: string,
  opts: { readonly limit?: number; readonly expectedSize?: number | undefined } = {},
): Promise<Buffer> {
  if (compression === "none") return data;
  const d = compression === "xz" ? xzDecompressor("xz", where) : gunzipStream();
  const src = Readable.from([data]);
  src.on("error", (e) => d.destroy(e));
  const limit = opts.limit ?? 1024 * 1024 * 1024;
  try {
    const known =
      opts.expectedSize === undefined ? undefined : { bytes: opts.expectedSize, from: "the Release lists" };
    return await readAll(src.pipe(d), limit, known);
  } catch (e) {
    // the xz decoder's own error names the file already
    if (isOcipatchError(e) && e.message.startsWith(`${where}: `)) throw e;
    throw new OcipatchError("INVALID_FORMAT", `${where}: cannot decompress (${(e as Error).message})`, {
      cause: e,
    });
  }
}
