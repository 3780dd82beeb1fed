import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable, type Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { xzDecompressor } from "../../xz.js";
import { zstdDecompressor } from "../../zstd.js";
import { OUT_BYTES } from "../decoder.js";

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

describe.each(cases)("the %s decoder's output buffers", (_name, tool, decoder) => {
  /** Every piece `d` hands out for `packed`, kept. */
  async function pieces(d: Transform, packed: Buffer): Promise<Buffer[]> {
    const got: Buffer[] = [];
    await pipeline(
      Readable.from([packed]),
      d,
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          got.push(chunk);
          setImmediate(cb);
        },
      }),
    );
    return got;
  }

  it("a small output keeps no 1 MiB buffer allocated", async () => {
    const plain = randomBytes(10_000);
    const packed = execFileSync(tool[0]!, tool.slice(1), { input: plain });
    const got = await pieces(decoder(), packed);
    expect(Buffer.concat(got)).toEqual(plain);
    for (const p of got) expect(p.buffer.byteLength).toBeLessThan(OUT_BYTES);
  });

  it("pieces handed out stay intact while other decoders reuse the buffers", async () => {
    // sizes around the copy threshold and across several steps, decoded at once and kept
    const plains = [1_000, 300_000, 600_000, 2_500_000, 40_000, 1_048_576].map((n) => randomBytes(n));
    const packed = plains.map((p) => execFileSync(tool[0]!, tool.slice(1), { input: p, maxBuffer: 1 << 30 }));
    const kept = await Promise.all(packed.map((p) => pieces(decoder(), p)));
    // more decoding after they finished: buffers given back are filled again
    await Promise.all(packed.map((p) => pieces(decoder(), p)));
    for (const [i, got] of kept.entries()) expect(Buffer.concat(got).equals(plains[i]!)).toBe(true);
  });
});

describe.each(cases)("the %s decoder", (_name, tool, decoder) => {
  it("decodes data that ends exactly at the end of an output buffer", async () => {
    // libzstd reported such a frame whole (0) with the buffer full; called again, it read the end
    // of the input as the start of another frame and the data as cut short
    for (const n of [OUT_BYTES, 2 * OUT_BYTES]) {
      const plain = randomBytes(n);
      const packed = execFileSync(tool[0]!, tool.slice(1), { input: plain, maxBuffer: 1 << 30 });
      const got: Buffer[] = [];
      await pipeline(
        Readable.from([packed]),
        decoder(),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            got.push(chunk);
            cb();
          },
        }),
      );
      expect(Buffer.concat(got).equals(plain)).toBe(true);
    }
  });
});
