import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { DigestStream } from "../util/digest.js";
import { BLOB_PIECE_BYTES } from "../util/streams.js";
import type { OpenOptions } from "./image.js";
import type { Descriptor } from "./manifest.js";

/** A local blob file's bytes, read in BLOB_PIECE_BYTES pieces (stopped by `signal`). */
export function readBlobFile(path: string, signal?: AbortSignal): Readable {
  return createReadStream(path, { highWaterMark: BLOB_PIECE_BYTES, signal });
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
