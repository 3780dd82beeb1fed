import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type IndexOrigin, PackagesIndex } from "../packages.js";

const origin: IndexOrigin = {
  uri: "http://m/debian",
  fetchUri: "http://m/debian",
  suite: "s",
  kind: "release",
  component: "main",
  architecture: "amd64",
  priority: 500,
};
const dir = mkdtempSync(join(tmpdir(), "ocipatch-packages-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHA = "0".repeat(64);
/** Paragraphs with what the scan must get right across piece boundaries. */
function packagesText(): string {
  const paras: string[] = [
    // Provides on the file's first line
    `Provides: first-virt\nPackage: p0\nVersion: 1\nArchitecture: all\nFilename: pool/p0.deb\nSize: 1\nSHA256: ${SHA}`,
    // white space around a name (a tab and spaces after it)
    `Package:  spaced\t \nVersion: 1\nArchitecture: all\nFilename: pool/s.deb\nSize: 1\nSHA256: ${SHA}`,
  ];
  for (let i = 1; i < 300; i++) {
    const lines = [`Package: p${i % 120}`, `Version: ${i}`, "Architecture: amd64"];
    if (i % 7 === 0) lines.push(`Provides: v${i % 5},\n v${(i + 1) % 5} (= 1),\n\tw${i % 3}`);
    if (i % 11 === 0) lines.push(`Description: text\n more text with Provides: not-a-field\n .\n end`);
    lines.push(`Filename: pool/p${i}.deb`, `Size: ${i}`, `SHA256: ${SHA}`);
    paras.push(lines.join("\n"));
  }
  // blank lines of different lengths between paragraphs, none after the last
  return (
    paras.map((p, i) => p + "\n".repeat(2 + (i % 3))).join("") +
    "Package: last\nVersion: 1\nArchitecture: all\nFilename: pool/l.deb\nSize: 1\nSHA256: " +
    SHA
  );
}

/** Names, each name's versions and each virtual name's providers: what the planner asks. */
function view(index: PackagesIndex) {
  const names = [...index.names()].sort();
  const virtuals = ["first-virt", "v0", "v1", "v2", "v3", "v4", "w0", "w1", "w2", "not-a-field"];
  return {
    names,
    versions: names.map((n) => [n, index.get(n).map((p) => p.version)]),
    providers: virtuals.map((v) => [v, index.providers(v).map((p) => `${p.name}=${p.version}`)]),
  };
}

describe("PackagesIndex from pieces", () => {
  for (const [name, eol] of [
    ["LF", "\n"],
    ["CRLF", "\r\n"],
  ] as const) {
    it(`finds what the whole-bytes scan finds, whatever the piece boundaries (${name})`, () => {
      const bytes = Buffer.from(packagesText().replace(/\n/g, eol), "latin1");
      const file = join(dir, `Packages-${name}`);
      writeFileSync(file, bytes);
      const expected = view(PackagesIndex.fromBytes(bytes, origin, "whole"));
      expect(expected.names.length).toBe(122);
      expect(expected.versions).toContainEqual(["spaced", ["1"]]);
      expect(expected.versions).toContainEqual(["p7", ["7", "127", "247"]]);
      expect(expected.providers.find(([v]) => v === "first-virt")![1]).toEqual(["p0=1"]);
      expect(expected.providers.find(([v]) => v === "not-a-field")![1]).toEqual([]);
      // pieces of 1, 2, 3, ... bytes (cycling), then 64 KiB: every boundary a paragraph end can straddle
      for (const sizes of [[1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144], [65536]]) {
        const pieces = PackagesIndex.fromPieces(origin, "pieces", file);
        for (let at = 0, k = 0; at < bytes.length; k++) {
          const n = sizes[k % sizes.length]!;
          pieces.push(Buffer.from(bytes.subarray(at, at + n)));
          at += n;
        }
        expect(view(pieces.finish())).toEqual(expected);
      }
    });
  }

  it("a paragraph without a Package field is an error naming its offset", () => {
    const file = join(dir, "Packages-bad");
    const bytes = Buffer.from("Package: a\nVersion: 1\n\nVersion: 2\n");
    writeFileSync(file, bytes);
    const pieces = PackagesIndex.fromPieces(origin, "bad", file);
    expect(() => {
      pieces.push(bytes.subarray(0, 5));
      pieces.push(bytes.subarray(5));
      pieces.finish();
    }).toThrow("bad: paragraph at offset 23 has no Package field");
  });
});
