import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import type { Digest } from "../../util/digest.js";
import type { Descriptor } from "../manifest.js";
import { type ContentSource, openVerified, uncompressLayer } from "../source.js";

/** Reads `s` to its end; what it threw, or undefined. */
async function drain(s: NodeJS.ReadableStream): Promise<unknown> {
  try {
    for await (const _ of s) {
      // discard
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

const layerTar = Buffer.alloc(1 << 20, "layer data ");
const diffId = `sha256:${createHash("sha256").update(layerTar).digest("hex")}` as Digest;

describe("uncompressLayer", () => {
  it("a read aborted by a signal is the abort, not corrupt gzip", async () => {
    const blob = new PassThrough();
    const out = uncompressLayer(blob, "gzip", diffId, "layer x");
    blob.write(gzipSync(layerTar).subarray(0, 1000));
    setImmediate(() => blob.destroy(new DOMException("The operation was aborted", "AbortError")));
    const err = (await drain(out)) as Error;
    expect(err.name).toBe("AbortError");
    expect(isOcipatchError(err)).toBe(false);
  });

  it("corrupt gzip is still INVALID_FORMAT naming the layer", async () => {
    const blob = new PassThrough();
    const out = uncompressLayer(blob, "gzip", diffId, "layer x");
    const gz = gzipSync(layerTar);
    gz[20] = gz[20]! ^ 0xff;
    blob.end(gz);
    const err = await drain(out);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^layer x: /);
  });
});

const blob = Buffer.alloc(3 << 20, "blob data ");
const desc: Descriptor = {
  mediaType: "application/octet-stream",
  digest: `sha256:${createHash("sha256").update(blob).digest("hex")}` as Digest,
  size: blob.length,
};

/** A source whose one blob is `raw`, a stream the test writes. */
function sourceOf(raw: PassThrough): ContentSource {
  return {
    description: "test source",
    fetchManifest: () => Promise.reject(new Error("no manifests here")),
    openBlob: () => Promise.resolve(raw),
  };
}

describe("openVerified", () => {
  it("reads a whole blob and leaves its source to end by itself", async () => {
    const raw = new PassThrough();
    const out = await openVerified(sourceOf(raw), desc, "blob");
    raw.end(blob);
    expect(await drain(out)).toBeUndefined();
    await finished(raw);
    expect(raw.readableEnded).toBe(true);
  });

  it("a reader that stops before the end stops the source", async () => {
    const raw = new PassThrough();
    const out = await openVerified(sourceOf(raw), desc, "blob");
    raw.write(blob.subarray(0, 2 << 20));
    await new Promise((r) => out.once("data", r));
    out.destroy();
    await new Promise((r) => setImmediate(r));
    expect(raw.destroyed).toBe(true);
  });

  it("a blob larger than its descriptor fails and stops the source", async () => {
    const raw = new PassThrough();
    const out = await openVerified(sourceOf(raw), desc, "blob");
    raw.write(blob);
    raw.write(Buffer.alloc(2 << 20));
    const err = await drain(out);
    expect(isOcipatchError(err, "DIGEST_MISMATCH")).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(raw.destroyed).toBe(true);
  });
});
