import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { readAll } from "../streams.js";
import { ZSTD_IN_PROCESS_MAX, zstdCompressor, zstdDecompressor } from "../zstd.js";

// Compressible but not trivial: repeated random lines.
const lines = Array.from({ length: 2000 }, () => randomBytes(24).toString("hex"));
const input = Buffer.from(
  Array.from({ length: 40_000 }, (_, i) => lines[(i * 7919) % lines.length]).join("\n"),
);

async function through(t: NodeJS.ReadWriteStream, data: Buffer, piece = 65_536): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  return readAll(Readable.from(parts).pipe(t) as unknown as Readable, 1 << 30);
}

afterEach(() => {
  delete process.env["OCIPATCH_NO_HOST_ZSTD"];
});

describe("zstd without a compiled binding", () => {
  const real = execFileSync("zstd", ["-c", "-q", "-19"], { input, maxBuffer: 1 << 30 });

  it("decodes the real zstd tool's output with the host tool", async () => {
    expect((await through(zstdDecompressor(), real)).equals(input)).toBe(true);
  });

  it("decodes it in pure JavaScript (fzstd) when the host tool is not used, in any piece size", async () => {
    process.env["OCIPATCH_NO_HOST_ZSTD"] = "1";
    expect((await through(zstdDecompressor(), real, 1000)).equals(input)).toBe(true);
    // two frames back to back are one stream
    const two = Buffer.concat([real, real]);
    expect((await through(zstdDecompressor(), two)).equals(Buffer.concat([input, input]))).toBe(true);
  });

  it("reports corrupt data as INVALID_FORMAT, with and without the host tool", async () => {
    const bad = Buffer.from(real);
    bad.fill(0x55, 100, 400);
    await expect(through(zstdDecompressor("blob x"), bad)).rejects.toMatchObject({ code: "INVALID_FORMAT" });
    process.env["OCIPATCH_NO_HOST_ZSTD"] = "1";
    await expect(through(zstdDecompressor("blob x"), bad)).rejects.toMatchObject({
      code: "INVALID_FORMAT",
      message: expect.stringContaining("blob x: corrupt zstd data"),
    });
  });

  it("decodes an input known to be small in-process, a large or unsized one with the host tool", async () => {
    // the two decoders name the same corruption differently: that shows which one ran
    const bad = Buffer.from(real);
    bad.fill(0x55, 100, 400);
    const message = (size?: number) =>
      through(zstdDecompressor("blob y", size), bad).then(
        () => "decoded",
        (e: Error) => e.message,
      );
    expect(await message(bad.length)).toBe("blob y: corrupt zstd data: invalid zstd data");
    expect(await message(ZSTD_IN_PROCESS_MAX)).toBe("blob y: corrupt zstd data: invalid zstd data");
    expect(await message()).toMatch(/^blob y: corrupt zstd data: .*Decoding error/);
    expect(await message(ZSTD_IN_PROCESS_MAX + 1)).toMatch(/^blob y: corrupt zstd data: .*Decoding error/);
    // and the small one decodes right
    expect((await through(zstdDecompressor("blob y", real.length), real)).equals(input)).toBe(true);
  });

  it("compresses with the host tool into data `zstd -d` restores", async () => {
    const z = await through(zstdCompressor(3), input);
    expect(z.length).toBeLessThan(input.length / 2);
    expect(execFileSync("zstd", ["-d", "-c", "-q"], { input: z, maxBuffer: 1 << 30 }).equals(input)).toBe(
      true,
    );
  });

  it("refuses to write zstd without the host tool (UNSUPPORTED, not a crash)", () => {
    process.env["OCIPATCH_NO_HOST_ZSTD"] = "1";
    expect(() => zstdCompressor(3)).toThrow(expect.objectContaining({ code: "UNSUPPORTED" }));
  });
});
