import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { readAll } from "../streams.js";
import { xzDecompressor } from "../xz.js";

// Compressible but not trivial: repeated random lines.
const lines = Array.from({ length: 2000 }, () => randomBytes(24).toString("hex"));
const input = Buffer.from(
  Array.from({ length: 40_000 }, (_, i) => lines[(i * 7919) % lines.length]).join("\n"),
);

async function through(format: "xz" | "lzma", data: Buffer, piece = 65_536): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  const d = xzDecompressor(format, "test data");
  return readAll(Readable.from(parts).pipe(d) as unknown as Readable, 1 << 30);
}

describe("xz in-process (lzma-native)", () => {
  // the real xz tool is the oracle: what it writes is what dpkg-deb and apt archives hold
  const xz = execFileSync("xz", ["-c", "-6"], { input, maxBuffer: 1 << 30 });
  const lzma = execFileSync("xz", ["-c", "--format=lzma"], { input, maxBuffer: 1 << 30 });

  it("decodes the xz tool's output, in any piece size", async () => {
    expect((await through("xz", xz)).equals(input)).toBe(true);
    expect((await through("xz", xz, 1000)).equals(input)).toBe(true);
  });

  it("decodes concatenated streams as one, as xz does", async () => {
    const two = Buffer.concat([xz, xz]);
    expect((await through("xz", two)).equals(Buffer.concat([input, input]))).toBe(true);
  });

  it("decodes the legacy lzma format", async () => {
    expect((await through("lzma", lzma)).equals(input)).toBe(true);
  });

  it("reports corrupt data as one line of INVALID_FORMAT naming the data", async () => {
    const bad = Buffer.from(xz);
    for (let i = 200; i < 260; i++) bad[i] = bad[i]! ^ 0x5a;
    const err = await through("xz", bad).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^test data: corrupt xz data: /);
    expect((err as Error).message).not.toContain("\n");
  });

  it("reports cut-short data as INVALID_FORMAT through a pipeline", async () => {
    const cut = xz.subarray(0, Math.floor(xz.length / 2));
    const err = await pipeline(Readable.from([cut]), xzDecompressor("xz", "half"), async (src) => {
      for await (const _ of src) {
        // drained
      }
    }).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toBe("half: corrupt xz data: unexpected end of data");
  });
});
