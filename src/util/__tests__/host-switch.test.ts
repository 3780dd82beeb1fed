/**
 * `OCIPATCH_NO_HOST_<NAME>=1` for the host libraries: with liblzma and libzstd switched off, the
 * bundled decoders serve (each test file loads its own modules, so the switch is read here first).
 */
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostLiblzma } from "../host-lib/liblzma.js";
import { hostLibzstd } from "../host-lib/libzstd.js";
import { readAll } from "../streams.js";
import { xzDecompressor, xzEngine } from "../xz.js";
import { zstdDecompressor, zstdEngine } from "../zstd.js";

const NAMES = ["OCIPATCH_NO_HOST_LIBLZMA", "OCIPATCH_NO_HOST_LIBZSTD"];

describe("OCIPATCH_NO_HOST_LIBLZMA and OCIPATCH_NO_HOST_LIBZSTD", () => {
  beforeAll(() => {
    for (const n of NAMES) process.env[n] = "1";
  });
  afterAll(() => {
    for (const n of NAMES) delete process.env[n];
  });

  it("leave the host's libraries unloaded: the bundled decoders decode", async () => {
    expect(hostLiblzma()).toBeUndefined();
    expect(hostLibzstd()).toBeUndefined();
    expect(xzEngine()).toBe("lzma-native");
    expect(zstdEngine(1000)).toBe("fzstd");
    const data = Buffer.from("a line of text\n".repeat(10_000));
    const xz = execFileSync("xz", ["-c"], { input: data });
    const zst = execFileSync("zstd", ["-c", "-q"], { input: data });
    const decoded = (d: NodeJS.ReadWriteStream, packed: Buffer) =>
      readAll(Readable.from([packed]).pipe(d) as unknown as Readable, 1 << 24);
    expect((await decoded(xzDecompressor("xz", "test"), xz)).equals(data)).toBe(true);
    expect((await decoded(zstdDecompressor("test", zst.length), zst)).equals(data)).toBe(true);
  });
});
