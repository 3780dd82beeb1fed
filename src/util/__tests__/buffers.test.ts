import { describe, expect, it } from "vitest";
import { compacted, SpareBuffers } from "../buffers.js";

describe("compacted", () => {
  it("copies a piece that fills at most half of its memory, and keeps the others as they are", () => {
    const big = Buffer.alloc(65536, 7);
    const half = compacted(big.subarray(0, 32768));
    expect(half.buffer).not.toBe(big.buffer);
    expect(half.buffer.byteLength).toBe(32768);
    expect(half).toEqual(Buffer.alloc(32768, 7));
    const most = big.subarray(0, 32769);
    expect(compacted(most)).toBe(most);
  });
});

describe("SpareBuffers", () => {
  it("fills a buffer given back before taking new memory, keeps at most its limit, and only its size", () => {
    const spare = new SpareBuffers(4096, 2);
    const [a, b, c] = [spare.take(), spare.take(), spare.take()];
    expect([a.length, b.length, c.length]).toEqual([4096, 4096, 4096]);
    expect(new Set([a.buffer, b.buffer, c.buffer]).size).toBe(3);
    spare.giveBack(a);
    spare.giveBack(b);
    spare.giveBack(c); // over the limit: dropped
    spare.giveBack(Buffer.alloc(100)); // another size: not taken
    const again = [spare.take(), spare.take(), spare.take()];
    expect(again[0]).toBe(b);
    expect(again[1]).toBe(a);
    expect(again[2]).not.toBe(c);
    expect(again[2]!.length).toBe(4096);
  });
});
