/**
 * Files whose identity is known before they are read (a package from a signed index): saved
 * or checked while streaming, SHA-256 and size, never used unverified.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isOcipatchError, OcipatchError } from "../errors.js";
import { type Digest, DigestStream, parseDigest } from "./digest.js";
import { discard } from "./streams.js";

/** Expected identity of a file, as a signed index publishes it. */
export interface FileExpectation {
  /** SHA-256 as hex, or `sha256:<hex>`. */
  readonly sha256: string;
  readonly size?: number | undefined;
}

export function expectedDigest(e: FileExpectation): Digest {
  const s = e.sha256.toLowerCase();
  return parseDigest(s.startsWith("sha256:") ? s : `sha256:${s}`);
}

function digestStream(expect: FileExpectation, what: string): DigestStream {
  return new DigestStream({
    digest: expectedDigest(expect),
    ...(expect.size === undefined ? {} : { size: expect.size }),
    what,
  });
}

/**
 * Check that a file has the expected SHA-256 and size, streaming it once.
 * Throws DIGEST_MISMATCH (one line, naming the file) when it does not.
 */
export async function verifyFile(path: string, expect: FileExpectation, source = path): Promise<void> {
  const ds = digestStream(expect, source);
  try {
    await pipeline(createReadStream(path), ds, async (s: AsyncIterable<Buffer>) => {
      for await (const _ of s) {
        // discard
      }
    });
  } catch (e) {
    if (isOcipatchError(e)) throw e;
    throw new OcipatchError("IO", `${source}: cannot read: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Stream `body` (e.g. an HTTP response) into a new private file (mode 0600, must not exist),
 * verifying SHA-256 and size on the way. On any failure the partial file is removed and the
 * error thrown (DIGEST_MISMATCH for a bad hash).
 */
export async function saveVerified(
  body: Readable | AsyncIterable<Uint8Array>,
  path: string,
  expect: FileExpectation,
  source = path,
): Promise<{ path: string; size: number; digest: Digest }> {
  const ds = digestStream(expect, source);
  let out: WriteStream | undefined;
  try {
    const input = body instanceof Readable ? body : Readable.from(body);
    out = createWriteStream(path, { flags: "wx", mode: 0o600 });
    await pipeline(input, ds, out);
  } catch (e) {
    if (out) await discard(out);
    await unlink(path).catch(() => {});
    if (isOcipatchError(e)) throw e;
    throw new OcipatchError("IO", `${source}: cannot save to ${path}: ${(e as Error).message}`, { cause: e });
  }
  return { path, size: ds.size, digest: ds.digest() };
}
