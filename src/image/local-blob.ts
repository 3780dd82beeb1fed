import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { DigestStream } from "../util/digest.js";
import { BLOB_PIECE_BYTES } from "../util/streams.js";
import type { OpenOptions } from "./image.js";
import type { Descriptor } from "./manifest.js";

/** Stream a local file, verifying digest and size at the end. */
export function openVerifiedFile(
  path: string,
  desc: Pick<Descriptor, "digest" | "size">,
  what: string,
  opts?: OpenOptions,
): Readable {
  const f = createReadStream(path, { highWaterMark: BLOB_PIECE_BYTES, signal: opts?.signal });
  const check = new DigestStream({ digest: desc.digest, size: desc.size, what: `${what} ${desc.digest}` });
  f.on("error", (e) => check.destroy(e));
  return f.pipe(check);
}
