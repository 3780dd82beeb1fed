import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { hostLibzstd } from "../host-lib/libzstd.js";
import { readAll } from "../streams.js";
import { ZSTD_IN_PROCESS_MAX, zstdCompressor, zstdDecompressor, zstdEngine } from "../zstd.js";

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

/** The real zstd tool's output (the oracle: what Ubuntu's .debs and Fedora's rpms hold). */
function zstdc(data: Buffer, ...args: string[]): Buffer {
  return execFileSync("zstd", ["-c", "-q", ...args], { input: data, maxBuffer: 1 << 30 });
}

afterEach(() => {
  delete process.env["OCIPATCH_NO_HOST_ZSTD"];
});

describe("which engine decodes zstd", () => {
  it("is the host's libzstd here (Debian's libzstd1: apt and dpkg need it)", () => {
    expect(hostLibzstd()?.version).toMatch(/^1\.\d+\.\d+$/);
    expect(zstdEngine()).toBe("libzstd");
    expect(zstdEngine(1)).toBe("libzstd");
  });

  it("without libzstd: fzstd for an input known to be small, the host tool for others when it is there", () => {
    const tool = { libzstd: false, tool: true };
    expect(zstdEngine(1000, tool)).toBe("fzstd");
    expect(zstdEngine(ZSTD_IN_PROCESS_MAX, tool)).toBe("fzstd");
    expect(zstdEngine(ZSTD_IN_PROCESS_MAX + 1, tool)).toBe("zstd");
    expect(zstdEngine(undefined, tool)).toBe("zstd");
    expect(zstdEngine(undefined, { libzstd: false, tool: false })).toBe("fzstd");
    expect(zstdEngine(undefined, { libzstd: true, tool: true })).toBe("libzstd");
  });
});

describe.each(["libzstd", "zstd", "fzstd"] as const)("zstd decoded by %s", (engine) => {
  const real = zstdc(input, "-19");

  it("decodes the real zstd tool's output, in any piece size", async () => {
    expect((await through(zstdDecompressor("x", undefined, engine), real)).equals(input)).toBe(true);
    expect((await through(zstdDecompressor("x", undefined, engine), real, 1000)).equals(input)).toBe(true);
  });

  it("decodes two frames back to back as one stream, and other levels and checksums", async () => {
    const two = Buffer.concat([real, zstdc(input, "-1", "--no-check")]);
    expect(
      (await through(zstdDecompressor("x", undefined, engine), two)).equals(Buffer.concat([input, input])),
    ).toBe(true);
    const big = Buffer.concat([input, randomBytes(300_000), input]);
    expect(
      (await through(zstdDecompressor("x", undefined, engine), zstdc(big, "-3", "-T2"))).equals(big),
    ).toBe(true);
  });

  it("reports corrupt data as INVALID_FORMAT naming the data", async () => {
    const bad = Buffer.from(real);
    bad.fill(0x55, 100, 400);
    const err = await through(zstdDecompressor("blob x", undefined, engine), bad).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^blob x: corrupt zstd data/);
    expect((err as Error).message).not.toContain("\n");
  });

  it("reports cut-short data as INVALID_FORMAT", async () => {
    const cut = real.subarray(0, Math.floor(real.length / 2));
    const err = await through(zstdDecompressor("half", undefined, engine), cut).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/^half: corrupt zstd data/);
  });
});

describe("the libzstd decoder", () => {
  it("checks each frame's content checksum", async () => {
    // a frame whose stored checksum is off by one bit: the data decodes, the check fails
    const real = zstdc(input, "-19", "--check");
    const bad = Buffer.from(real);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    await expect(through(zstdDecompressor("sum", undefined, "libzstd"), bad)).rejects.toThrow(
      "sum: corrupt zstd data: restored data doesn't match checksum",
    );
  });
});

describe("zstd compression", () => {
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
