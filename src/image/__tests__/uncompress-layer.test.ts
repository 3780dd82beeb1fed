import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import type { Digest } from "../../util/digest.js";
import { uncompressLayer } from "../source.js";

const raw = Buffer.alloc(1 << 20, "layer data ");
const diffId = `sha256:${createHash("sha256").update(raw).digest("hex")}` as Digest;

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

describe("uncompressLayer", () => {
  it("a read aborted by a signal is the abort, not corrupt gzip", async () => {
    const blob = new PassThrough();
    const out = uncompressLayer(blob, "gzip", diffId, "layer x");
    blob.write(gzipSync(raw).subarray(0, 1000));
    setImmediate(() => blob.destroy(new DOMException("The operation was aborted", "AbortError")));
    const err = (await drain(out)) as Error;
    expect(err.name).toBe("AbortError");
    expect(isOcipatchError(err)).toBe(false);
  });

  it("corrupt gzip is still INVALID_FORMAT naming the layer", async () => {
    const blob = new PassThrough();
    const out = uncompressLayer(blob, "gzip", diffId, "layer x");
    const gz = gzipSync(raw);
    gz[20] = gz[20]! ^ 0xff;
    blob.end(gz);
    const err = await drain(out);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^layer x: /);
  });
});
