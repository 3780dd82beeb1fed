import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { DigestStream } from "../util/digest.js";
import { BLOB_PIECE_BYTES } from "../util/streams.js";
import type { OpenOptions } from "./image.js";
import type { Descriptor } from "./manifest.js";

/**
 * How a local blob's bytes are read (a path, an open handle, a range of an archive): in
 * BLOB_PIECE_BYTES pieces (a reader joins smaller ones: a copy), stopped by `signal`.
 */
export function blobReadOptions(signal?: AbortSignal): { highWaterMark: number; signal?: AbortSignal } {
  return signal ? { highWaterMark: BLOB_PIECE_BYTES, signal } : { highWaterMark: BLOB_PIECE_BYTES };
}

/** A local blob file's bytes (`blobReadOptions`). */
export function readBlobFile(path: string, signal?: AbortSignal): Readable {
  return createReadStream(path, blobReadOptions(signal));
}

/** Stream a local file, verifying digest and size at the end. */
export function openVerifiedFile(
  path: string,
  desc: Pick<Descriptor, "digest" | "size">,
  what: string,
  opts?: OpenOptions,
): Readable {
  const f = readBlobFile(path, opts?.signal);
  const check = new DigestStream({ digest: desc.digest, size: desc.size, what: `${what} ${desc.digest}` });
  f.on("error", (e) => check.destroy(e));
  return f.pipe(check);
}
