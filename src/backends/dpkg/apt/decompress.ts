import { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { readAll } from "../../../util/streams.js";
import { xzDecompressor } from "../../../util/xz.js";

export type IndexCompression = "xz" | "gz" | "none";

/** An index file's decoded bytes as a stream (util/xz.ts / zlib); see `decodeError` for its errors. */
export function indexDecoder(data: Buffer, compression: IndexCompression, where: string): Readable {
  const src = Readable.from([data], { objectMode: false });
  if (compression === "none") return src;
  const d = compression === "xz" ? xzDecompressor("xz", where) : gunzipStream();
  src.on("error", (e) => d.destroy(e));
  return src.pipe(d);
}

/** An error met while decoding an index: ocipatch's own as they are (they name the file), others as corrupt data. */
export function decodeError(e: unknown, where: string): Error {
  if (isOcipatchError(e)) return e;
  return new OcipatchError("INVALID_FORMAT", `${where}: cannot decompress (${(e as Error).message})`, {
    cause: e,
  });
}

/** Decompress an index file into memory (one the Release gives no plain hash for), refusing absurd sizes. */
export async function decompressIndex(
  data: Buffer,
  compression: IndexCompression,
  where: string,
  limit = 1024 * 1024 * 1024,
): Promise<Buffer> {
  if (compression === "none") return data;
  try {
    return await readAll(indexDecoder(data, compression, where), limit);
  } catch (e) {
    // the xz decoder's own error names the file already; readAll's "larger than" does not
    const unnamed = isOcipatchError(e) && !e.message.startsWith(`${where}: `);
    throw decodeError(unnamed ? new Error(e.message, { cause: e }) : e, where);
  }
}
