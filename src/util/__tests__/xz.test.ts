import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { hostLiblzma } from "../host-lib/liblzma.js";
import { readAll } from "../streams.js";
import { type XzEngine, xzDecompressor, xzEngine } from "../xz.js";

// Compressible but not trivial: repeated random lines.
const lines = Array.from({ length: 2000 }, () => randomBytes(24).toString("hex"));
const input = Buffer.from(
  Array.from({ length: 40_000 }, (_, i) => lines[(i * 7919) % lines.length]).join("\n"),
);

function pieces(data: Buffer, piece: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += piece) parts.push(data.subarray(i, i + piece));
  return parts;
}

async function through(
  engine: XzEngine,
  format: "xz" | "lzma",
  data: Buffer,
  piece = 65_536,
): Promise<Buffer> {
  const d = xzDecompressor(format, "test data", engine);
  return readAll(Readable.from(pieces(data, piece)).pipe(d) as unknown as Readable, 1 << 30);
}

/** The xz tool's output for `args` (the oracle: what dpkg-deb, apt archives and rpm hold). */
function xzc(data: Buffer, ...args: string[]): Buffer {
  return execFileSync("xz", ["-c", ...args], { input: data, maxBuffer: 1 << 30 });
}

/** One input in the xz tool's other settings: no check, CRC-32, SHA-256, many blocks, a 64 MiB dictionary. */
const big = Buffer.concat([input, randomBytes(300_000), input]);
const corpus = [
  ["--check=none"],
  ["--check=crc32", "-0"],
  ["--check=sha256", "-9"],
  ["--block-size=100000", "-3"],
].map((args) => ({ args, packed: xzc(big, ...args) }));

describe("the host's liblzma", () => {
  it("loads here (Debian's liblzma5), so it is the default engine", () => {
    // every Debian system has liblzma5 (dpkg needs it): its absence here is a broken machine
    expect(hostLiblzma()?.version).toMatch(/^5\.\d+\.\d+/);
    expect(xzEngine()).toBe("liblzma");
  });
});

describe.each(["liblzma", "lzma-native"] as const)("xz in-process (%s)", (engine) => {
  const xz = xzc(input, "-6");
  const lzma = xzc(input, "--format=lzma");

  it("decodes the xz tool's output, in any piece size", async () => {
    expect((await through(engine, "xz", xz)).equals(input)).toBe(true);
    expect((await through(engine, "xz", xz, 1000)).equals(input)).toBe(true);
    expect((await through(engine, "xz", xz, 1)).subarray(0, 5000).equals(input.subarray(0, 5000))).toBe(true);
  });

  it("decodes what the xz tool writes with other checks, block sizes and presets", async () => {
    for (const { args, packed } of corpus) {
      const out = await through(engine, "xz", packed, 4096);
      expect(out.length, args.join(" ")).toBe(big.length);
      expect(out.equals(big), args.join(" ")).toBe(true);
    }
  });

  it("decodes concatenated streams as one, as xz does", async () => {
    const two = Buffer.concat([xz, xz]);
    expect((await through(engine, "xz", two)).equals(Buffer.concat([input, input]))).toBe(true);
  });

  it("decodes the legacy lzma format", async () => {
    expect((await through(engine, "lzma", lzma)).equals(input)).toBe(true);
  });

  it("decodes empty input compressed", async () => {
    expect((await through(engine, "xz", xzc(Buffer.alloc(0)))).length).toBe(0);
  });

  it("reports corrupt data as one line of INVALID_FORMAT naming the data", async () => {
    const bad = Buffer.from(xz);
    for (let i = 200; i < 260; i++) bad[i] = bad[i]! ^ 0x5a;
    const err = await through(engine, "xz", bad).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^test data: corrupt xz data: /);
    expect((err as Error).message).not.toContain("\n");
  });

  it("reports data that is not xz as INVALID_FORMAT", async () => {
    const err = await through(engine, "xz", Buffer.from("plain text, not xz at all\n")).catch(
      (e: unknown) => e,
    );
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^test data: corrupt xz data: /);
  });

  it("reports cut-short data as INVALID_FORMAT through a pipeline", async () => {
    const cut = xz.subarray(0, Math.floor(xz.length / 2));
    const err = await pipeline(Readable.from([cut]), xzDecompressor("xz", "half", engine), async (src) => {
      for await (const _ of src) {
        // drained
      }
    }).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toBe("half: corrupt xz data: unexpected end of data");
  });

  it("can be destroyed mid-stream", async () => {
    const d = xzDecompressor("xz", "stopped", engine);
    const first = new Promise<void>((resolve) => d.once("data", () => resolve()));
    d.end(Buffer.concat([xz, xz, xz]));
    await first;
    d.destroy();
    await new Promise((r) => d.once("close", r));
    expect(d.destroyed).toBe(true);
  });
});
