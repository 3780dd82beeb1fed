import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FixedBlocks } from "../fixed-blocks.js";

function cut(data: Buffer, pieces: readonly number[], size: number): Buffer[] {
  const f = new FixedBlocks(size);
  const out: Buffer[] = [];
  let off = 0;
  for (let i = 0; off < data.length; i++) {
    const n = pieces[i % pieces.length]!;
    out.push(...f.add(data.subarray(off, off + n)));
    off += n;
  }
  const rest = f.rest();
  if (rest.length > 0) out.push(rest);
  return out;
}

describe("FixedBlocks", () => {
  const data = randomBytes(100_000);

  it("cuts the same blocks however the input is split", () => {
    for (const pieces of [[1], [999], [4096, 7, 30_000], [100_000], [65_536, 1]]) {
      const blocks = cut(data, pieces, 4096);
      expect(blocks.slice(0, -1).every((b) => b.length === 4096)).toBe(true);
      expect(blocks.at(-1)!.length).toBe(100_000 % 4096);
      expect(Buffer.concat(blocks).equals(data)).toBe(true);
    }
  });

  it("hands out views of a chunk that holds whole blocks, and copies the others once", () => {
    const f = new FixedBlocks(1000);
    const big = randomBytes(2500);
    const [a, b] = f.add(big);
    expect(a!.buffer).toBe(big.buffer);
    expect(b!.buffer).toBe(big.buffer);
    expect(f.pending).toBe(500);
    const [c] = f.add(randomBytes(700));
    expect(c!.buffer).not.toBe(big.buffer);
    expect(c!.subarray(0, 500).equals(big.subarray(2000))).toBe(true);
    expect(f.rest().length).toBe(200);
    expect(f.rest().length).toBe(0);
  });

  it("fills a block given back again, and never takes back a view of the caller's chunk", () => {
    const f = new FixedBlocks(100);
    const [own] = f.add(randomBytes(50)).concat(f.add(randomBytes(50)));
    expect(own!.length).toBe(100);
    f.recycle(own!);
    const [again] = f.add(randomBytes(100).subarray(0, 60)).concat(f.add(randomBytes(40)));
    expect(again!.buffer).toBe(own!.buffer);
    const chunk = randomBytes(100);
    const [view] = f.add(chunk);
    f.recycle(view!);
    f.add(randomBytes(10));
    const [next] = f.add(randomBytes(90));
    expect(next!.buffer).not.toBe(chunk.buffer);
    expect(chunk.equals(view!)).toBe(true);
  });
});
