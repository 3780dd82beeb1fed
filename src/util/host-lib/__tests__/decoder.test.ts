import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, type Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { xzDecompressor } from "../../xz.js";
import { zstdDecompressor } from "../../zstd.js";

const cases: ReadonlyArray<[string, string[], () => Transform]> = [
  ["liblzma", ["xz", "-c", "-1"], () => xzDecompressor("xz", "large", "liblzma")],
  ["libzstd", ["zstd", "-c", "-q", "-1"], () => zstdDecompressor("large", undefined, "libzstd")],
];

describe.each(cases)("the %s decoder's output waits for its reader", (_name, tool, decoder) => {
  it("holds a few MiB of a large input given whole while the reader is slow", async () => {
    // 48 MiB decoded from one input piece: without backpressure all of it would be buffered at once
    const block = randomBytes(64 * 1024);
    const plain = Buffer.concat(Array.from({ length: 768 }, () => block));
    const packed = execFileSync(tool[0]!, tool.slice(1), { input: plain, maxBuffer: 1 << 30 });
    const d = decoder();
    let most = 0;
    let got = 0;
    const slow = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _enc, cb) {
        got += chunk.length;
        most = Math.max(most, d.readableLength);
        setTimeout(cb, 1);
      },
    });
    await pipeline(Readable.from([packed]), d, slow);
    expect(got).toBe(plain.length);
    expect(most).toBeLessThanOrEqual(2 << 20);
  });
});
