import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AptCache } from "../cache.js";

const root = mkdtempSync(join(tmpdir(), "ocipatch-apt-cache-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const content = Buffer.from("Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\n");
const entry = { sha256: createHash("sha256").update(content).digest("hex"), size: content.length };

async function* piecesOf(b: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let at = 0; at < b.length; at += size) yield b.subarray(at, at + size);
}

/** What the cache's index directory holds (no temporary file may stay). */
function indexFiles(dir: string): string[] {
  try {
    return readdirSync(join(dir, "apt", "indices", "sha256")).sort();
  } catch {
    return [];
  }
}

describe("AptCache.saveIndex", () => {
  it("puts the bytes in place when they match the entry, and finds them by SHA-256 and size", async () => {
    const dir = join(root, "ok");
    const cache = new AptCache(dir);
    expect(await cache.hasIndex(entry.sha256, entry.size)).toBe(false);
    await cache.saveIndex(entry, piecesOf(content), "idx");
    expect(readFileSync(cache.indexPath(entry.sha256)).equals(content)).toBe(true);
    expect(indexFiles(dir)).toEqual([entry.sha256]);
    expect(await cache.hasIndex(entry.sha256, entry.size)).toBe(true);
    expect(await cache.hasIndex(entry.sha256, entry.size + 1)).toBe(false);
  });

  it.each([
    [
      "more bytes",
      Buffer.concat([content, Buffer.from("x")]),
      /idx: more than the \d+ bytes the Release lists/,
    ],
    ["fewer bytes", content.subarray(1), /idx: does not match the signed Release/],
    [
      "other bytes",
      Buffer.from(content.toString().replace("a", "c")),
      /idx: does not match the signed Release/,
    ],
  ])("%s: DIGEST_MISMATCH, and nothing is left in the cache", async (_what, bytes, message) => {
    const dir = join(root, _what.replace(" ", "-"));
    const cache = new AptCache(dir);
    await expect(cache.saveIndex(entry, piecesOf(bytes), "idx")).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
      message: expect.stringMatching(message),
    });
    expect(indexFiles(dir)).toEqual([]);
    expect(await cache.hasIndex(entry.sha256, entry.size)).toBe(false);
  });

  it("an error of the pieces is passed on as it is, with nothing left", async () => {
    const dir = join(root, "broken");
    const cache = new AptCache(dir);
    async function* broken(): AsyncGenerator<Buffer> {
      yield content.subarray(0, 5);
      throw new Error("corrupt xz data");
    }
    await expect(cache.saveIndex(entry, broken(), "idx")).rejects.toThrow("corrupt xz data");
    expect(indexFiles(dir)).toEqual([]);
  });

  it("a directory that cannot be made is an IO error naming the file (indices and lists)", async () => {
    const dir = join(root, "blocked");
    mkdirSync(join(dir, "apt", "indices"), { recursive: true });
    writeFileSync(join(dir, "apt", "indices", "sha256"), "a file where the directory goes");
    const cache = new AptCache(dir);
    await expect(cache.saveIndex(entry, piecesOf(content), "idx")).rejects.toMatchObject({
      code: "IO",
      message: expect.stringContaining(`cannot write cache file ${cache.indexPath(entry.sha256)}`),
    });
    // the same for a signed list file
    writeFileSync(join(dir, "apt", "lists"), "a file where the directory goes");
    await expect(
      cache.putList("http://m/debian/dists/s/InRelease", {
        body: Buffer.from("x"),
        etag: undefined,
        lastModified: undefined,
      }),
    ).rejects.toMatchObject({ code: "IO", message: expect.stringContaining("cannot write cache file") });
  });
});
