import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parallelGzip } from "../parallel-gzip.js";
import { readAll } from "../streams.js";

/** ~`size` bytes that compress like real files: text lines mixed with incompressible runs. */
function sample(size: number): Buffer {
  const words = Array.from({ length: 500 }, () => randomBytes(6).toString("base64url"));
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < size; i++) {
    const b =
      i % 50 === 0
        ? randomBytes(4096)
        : Buffer.from(`${words[(i * 31) % 500]} ${words[(i * 17) % 500]} ${i}\n`);
    parts.push(b);
    n += b.length;
  }
  return Buffer.concat(parts).subarray(0, size);
}

async function gz(
  data: Buffer,
  piece: number,
  level = 4,
  memberSize = 1 << 16,
  inFlight = 2,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  return readAll(Readable.from(parts).pipe(parallelGzip(level, memberSize, inFlight)), 1 << 30);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("parallelGzip", () => {
  const data = sample(1_000_000); // ~15 members of 64 KiB

  it("writes one gzip stream that gzip -d and zlib restore", async () => {
    const z = await gz(data, 10_000);
    expect(execFileSync("gzip", ["-d", "-c"], { input: z, maxBuffer: 1 << 30 }).equals(data)).toBe(true);
    expect(gunzipSync(z).equals(data)).toBe(true);
    // about as small as one gzip member of the whole
    expect(z.length).toBeLessThan(gzipSync(data, { level: 4 }).length * 1.05);
    // it really is several members
    expect(z.subarray(0, 10).toString("hex")).toBe("1f8b0800000000000003");
    let members = 0;
    for (
      let i = z.indexOf("1f8b0800000000000003", 0, "hex");
      i !== -1;
      i = z.indexOf("1f8b0800000000000003", i + 1, "hex")
    )
      members++;
    expect(members).toBeGreaterThanOrEqual(Math.ceil(data.length / (1 << 16)));
  });

  it("is deterministic: the same bytes whatever the input pieces and the parallelism", async () => {
    const a = await gz(data, 1 << 20, 4, 1 << 16, 2);
    const b = await gz(data, 777, 4, 1 << 16, 8);
    const c = await gz(data, 65_536, 4, 1 << 16, 3);
    expect(sha(b)).toBe(sha(a));
    expect(sha(c)).toBe(sha(a));
  });

  it("handles empty input and input that is an exact multiple of the member size", async () => {
    const empty = await gz(Buffer.alloc(0), 1);
    expect(execFileSync("gzip", ["-d", "-c"], { input: empty }).length).toBe(0);
    const exact = data.subarray(0, 4 << 16);
    const z = await gz(exact, 5000);
    expect(execFileSync("gzip", ["-d", "-c"], { input: z, maxBuffer: 1 << 30 }).equals(exact)).toBe(true);
  });
  it("hands out no piece that keeps much more memory allocated than its own bytes", async () => {
    // 1 MiB members compress to about a third: a piece of zlib's member-sized output buffer kept
    // all of it allocated until the piece was written and collected
    const pieces: Buffer[] = [];
    const out = Readable.from([sample(4 << 20)]).pipe(parallelGzip(4));
    // each piece as it was pushed ('data' events; reading gives several joined)
    out.on("data", (p: Buffer) => pieces.push(p));
    await finished(out);
    expect(gunzipSync(Buffer.concat(pieces)).length).toBe(4 << 20);
    for (const p of pieces) expect(p.buffer.byteLength).toBeLessThanOrEqual(Math.max(2 * p.length, 8192));
  });
});
