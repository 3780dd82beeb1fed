/**
 * The layout's blob store takes a source stream that verifies the blob already as it is (one
 * hash pass per copy), and still refuses to store anything whose bytes do not match.
 */

import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../errors.js";
import { emptyStats } from "../../../image/sink.js";
import { type Digest, DigestStream, digestLike, sha256 } from "../../../util/digest.js";
import { LayoutBlobStore } from "../blob-store.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "ocipatch-blob-store-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const good = Buffer.from("the blob's bytes\n");
const desc = { digest: sha256(good), size: good.length, mediaType: "application/octet-stream" };

/** What openVerified returns: the bytes through a check of `expect`. */
function verifying(bytes: Buffer, expect: { digest: Digest; size: number }): DigestStream {
  const check = new DigestStream({ ...expect, what: "test blob" });
  return Readable.from([bytes]).pipe(check);
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

describe("LayoutBlobStore.put", () => {
  it("a stream that checks this blob is written as it is", async () => {
    const src = verifying(good, desc);
    expect(src.checks(desc.digest, desc.size)).toBe(true);
    const stats = emptyStats();
    await new LayoutBlobStore(dir, stats, undefined, undefined).put(desc, async () => src);
    expect(await readFile(join(dir, "blobs/sha256", desc.digest.slice(7)))).toEqual(good);
    expect(stats.blobsUploaded).toBe(1);
  });

  it("wrong bytes behind a stream that checks this blob: DIGEST_MISMATCH, nothing stored", async () => {
    const bad = Buffer.from("the blob's bytEs\n");
    const e = await failure(
      new LayoutBlobStore(dir, emptyStats(), undefined, undefined).put(desc, async () =>
        verifying(bad, desc),
      ),
    );
    expect(isOcipatchError(e, "DIGEST_MISMATCH")).toBe(true);
    expect(await readdir(join(dir, "blobs/sha256"))).toEqual([]);
  });

  it("a stream that checks something else is verified against the descriptor", async () => {
    const other = Buffer.from("another blob\n");
    const src = verifying(other, { digest: sha256(other), size: other.length });
    expect(src.checks(desc.digest, desc.size)).toBe(false);
    const e = await failure(
      new LayoutBlobStore(dir, emptyStats(), undefined, undefined).put(desc, async () => src),
    );
    expect(isOcipatchError(e, "DIGEST_MISMATCH")).toBe(true);
    expect(await readdir(join(dir, "blobs/sha256"))).toEqual([]);
  });
});

describe("LayoutBlobStore with sha512 digests", () => {
  const hex = createHash("sha512").update(good).digest("hex");
  const desc512 = { digest: `sha512:${hex}` as Digest, size: good.length, mediaType: "application/json" };

  it("stores a sha512 blob under blobs/sha512, checked by sha512", async () => {
    await new LayoutBlobStore(dir, emptyStats(), undefined, undefined).putBytes(desc512, good);
    expect(await readFile(join(dir, "blobs/sha512", hex))).toEqual(good);
    const streamed = await mkdtemp(join(tmpdir(), "ocipatch-blob-store-"));
    try {
      await new LayoutBlobStore(streamed, emptyStats(), undefined, undefined).put(desc512, async () =>
        Readable.from([good]),
      );
      expect(await readFile(join(streamed, "blobs/sha512", hex))).toEqual(good);
    } finally {
      await rm(streamed, { recursive: true, force: true });
    }
  });

  it("same-size wrong bytes for a sha512 descriptor: DIGEST_MISMATCH, nothing stored", async () => {
    const bad = Buffer.from("the blob's bytEs\n");
    const store = new LayoutBlobStore(dir, emptyStats(), undefined, undefined);
    expect(isOcipatchError(await failure(store.putBytes(desc512, bad)), "DIGEST_MISMATCH")).toBe(true);
    expect(
      isOcipatchError(await failure(store.put(desc512, async () => Readable.from([bad]))), "DIGEST_MISMATCH"),
    ).toBe(true);
    expect(await readdir(join(dir, "blobs/sha512")).catch(() => [])).toEqual([]);
  });

  it("digests are computed with the expected digest's algorithm; an unknown one is refused", () => {
    expect(digestLike(good, desc512.digest)).toBe(desc512.digest);
    expect(digestLike(good, desc.digest)).toBe(desc.digest);
    const e = (() => {
      try {
        digestLike(good, `sha384:${"a".repeat(96)}`);
      } catch (err) {
        return err as Error;
      }
      throw new Error("expected a failure");
    })();
    expect(isOcipatchError(e, "UNSUPPORTED")).toBe(true);
    expect(e.message).toMatch(/unsupported digest algorithm "sha384"/);
  });
});
