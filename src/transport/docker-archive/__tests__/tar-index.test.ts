import { execFileSync } from "node:child_process";
import {
  createWriteStream,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../../errors.js";
import { readAll } from "../../../util/streams.js";
import { normalizeTarPath, parsePaxRecords, TarIndex } from "../tar-index.js";

let root: string;
let tree: string;
const LONG_DIR =
  "usr/share/doc/a-directory-name-long-enough/that-the-whole-path-does-not-fit-into-one-hundred";
const LONG_FILE = `${LONG_DIR}/bytes-of-a-file-with-a-long-name.bin`;

/** Files of the test tree: path → content. */
const FILES: Record<string, Buffer> = {
  "manifest.json": Buffer.from('[{"Config":"c.json"}]'),
  empty: Buffer.alloc(0),
  "exact-block": Buffer.alloc(512, 7),
  "sub/one-more": Buffer.alloc(513, 9),
  [LONG_FILE]: Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251)),
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "ocipatch-tarindex-"));
  tree = join(root, "tree");
  for (const [p, b] of Object.entries(FILES)) {
    mkdirSync(join(tree, p, ".."), { recursive: true });
    writeFileSync(join(tree, p), b);
  }
  symlinkSync("../manifest.json", join(tree, "sub/link-up"));
  symlinkSync(`../${LONG_FILE}`, join(tree, "sub/link-long"));
  symlinkSync("loop-b", join(tree, "loop-a"));
  symlinkSync("loop-a", join(tree, "loop-b"));
  linkSync(join(tree, "exact-block"), join(tree, "hard"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function gnuTar(format: string, extra: string[] = []): string {
  const file = join(root, `${format}.tar`);
  execFileSync("tar", [`--format=${format}`, "--sort=name", ...extra, "-C", tree, "-cf", file, "."]);
  return file;
}

/** Entry names as GNU tar lists them, normalised. */
function listed(file: string): string[] {
  return execFileSync("tar", ["-tf", file], { encoding: "utf8" })
    .split("\n")
    .map((l) => normalizeTarPath(l))
    .filter((l): l is string => l !== undefined)
    .sort();
}

describe("TarIndex reads the tar formats GNU tar writes", () => {
  it.each(["gnu", "pax", "ustar", "posix"])("%s", async (format) => {
    // ustar has no room for a link target over 100 bytes (but splits long names with its prefix field)
    const ustar = format === "ustar";
    const file = gnuTar(format, ustar ? ["--exclude=./sub/link-long"] : []);
    const idx = await TarIndex.open(file);
    expect(idx.names().sort()).toEqual(listed(file));
    for (const [p, b] of Object.entries(FILES)) {
      expect((await idx.read(p)).equals(b)).toBe(true);
      expect((await readAll(idx.stream(p))).equals(b)).toBe(true);
      expect(idx.entry(p).size).toBe(b.length);
    }
    // links are followed inside the archive
    expect((await idx.read("sub/link-up")).equals(FILES["manifest.json"]!)).toBe(true);
    if (!ustar) expect((await idx.read("./sub/link-long")).equals(FILES[LONG_FILE]!)).toBe(true);
    expect((await idx.read("hard")).equals(FILES["exact-block"]!)).toBe(true);
    expect(idx.has("loop-a")).toBe(false);
    expect(idx.has("sub")).toBe(false); // a directory is not a file
    expect((await idx.head(LONG_FILE, 4)).equals(FILES[LONG_FILE]!.subarray(0, 4))).toBe(true);
  });

  it("reads what tar-stream packs (the writer of docker archives)", async () => {
    const file = join(root, "tar-stream.tar");
    const pack = tar.pack();
    const done = pipeline(pack, createWriteStream(file));
    for (const [p, b] of Object.entries(FILES)) pack.entry({ name: p, size: b.length }, b);
    pack.entry({ name: "l/layer.tar", type: "symlink", linkname: "../manifest.json" });
    pack.finalize();
    await done;
    const idx = await TarIndex.open(file);
    for (const [p, b] of Object.entries(FILES)) expect((await idx.read(p)).equals(b)).toBe(true);
    expect((await idx.read("l/layer.tar")).equals(FILES["manifest.json"]!)).toBe(true);
  });

  it("rejects files that are not tar archives, and truncated ones", async () => {
    const junk = join(root, "junk");
    writeFileSync(junk, Buffer.alloc(2048, 0x41));
    await expect(TarIndex.open(junk)).rejects.toMatchObject({ code: "INVALID_FORMAT" });
    const whole = readFileSync(gnuTar("pax"));
    const cut = join(root, "cut.tar");
    // keep the first headers but cut inside the big file's data
    const at = whole.indexOf(Buffer.from(FILES[LONG_FILE]!.subarray(0, 64)));
    writeFileSync(cut, whole.subarray(0, at + 1000));
    const err = await TarIndex.open(cut).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).message).toMatch(/truncated/);
    await expect(TarIndex.open(join(root, "missing.tar"))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("TarIndex names the file it cannot read", () => {
  it("a compressed archive: 'FILE is not a tar archive (gzip-compressed; decompress it first)'", async () => {
    const tarFile = gnuTar("pax");
    for (const [tool, args, name] of [
      ["gzip", ["-c"], "gzip"],
      ["zstd", ["-q", "-c"], "zstd"],
      ["xz", ["-c"], "xz"],
    ] as const) {
      const out = join(root, `archive.tar.${tool}`);
      writeFileSync(out, execFileSync(tool, [...args, tarFile]));
      const err = await TarIndex.open(out).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("INVALID_FORMAT");
      expect((err as OcipatchError).message).toBe(
        `${out} is not a tar archive (${name}-compressed; decompress it first)`,
      );
    }
  });

  it("bytes whose checksum field is no number: 'FILE is not a tar archive (bad header checksum ...)'", async () => {
    const junk = join(root, "not-a-tar");
    const b = Buffer.alloc(4096, 0x41);
    b.fill(0xff, 140, 160); // what numeric() used to refuse before the file was named
    writeFileSync(junk, b);
    const err = await TarIndex.open(junk).catch((e: unknown) => e);
    expect((err as OcipatchError).message).toBe(
      `${junk} is not a tar archive (bad header checksum at offset 0)`,
    );
  });
});

describe("helpers", () => {
  it("normalises paths without leaving the archive root", () => {
    expect(normalizeTarPath("./a//b/")).toBe("a/b");
    expect(normalizeTarPath("/abs/x")).toBe("abs/x");
    expect(normalizeTarPath("../../etc/passwd")).toBe("etc/passwd");
    expect(normalizeTarPath("./")).toBeUndefined();
  });

  it("parses pax records, including values with spaces and '='", () => {
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      let n = body.length + 1;
      while (String(n).length + body.length !== n) n = String(n).length + body.length;
      return `${n}${body}`;
    };
    const data = Buffer.from(rec("path", "a b=c/d") + rec("size", "12345678901"));
    const m = parsePaxRecords(data, "t");
    expect(m.get("path")).toBe("a b=c/d");
    expect(m.get("size")).toBe("12345678901");
    expect(() => parsePaxRecords(Buffer.from("99 path=x\n"), "t")).toThrow(/malformed/);
  });
});
