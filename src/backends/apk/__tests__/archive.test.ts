import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { writeTar } from "../../../../test/harness/apk/tar.js";
import { isOcipatchError } from "../../../errors.js";
import { readTar, splitGzipMembers } from "../archive.js";

function fails(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isOcipatchError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("did not fail");
}

describe("gzip members", () => {
  it("splits concatenated members at their exact byte boundaries", () => {
    const a = gzipSync(Buffer.from("first"));
    const b = gzipSync(Buffer.from("second"), { level: 1 });
    const m = splitGzipMembers(Buffer.concat([a, b]), "x");
    expect(m.map((x) => [x.raw.equals(a) || x.raw.equals(b), x.data.toString()])).toEqual([
      [true, "first"],
      [true, "second"],
    ]);
    expect(m[0]?.raw.length).toBe(a.length);
  });

  it("bad, truncated, corrupted and oversized members fail on one line", () => {
    const a = gzipSync(Buffer.from("x".repeat(10_000)));
    expect(fails(() => splitGzipMembers(Buffer.concat([a, Buffer.from("junk-after-the-member")]), "f"))).toBe(
      `INVALID_FORMAT: f: gzip member 2 at byte ${a.length}: not a gzip stream`,
    );
    expect(fails(() => splitGzipMembers(a.subarray(0, a.length - 4), "f"))).toBe(
      "INVALID_FORMAT: f: gzip member 1: truncated trailer",
    );
    const crc = Buffer.from(a);
    crc[crc.length - 8] = (crc[crc.length - 8] ?? 0) ^ 0xff;
    expect(fails(() => splitGzipMembers(crc, "f"))).toBe(
      "DIGEST_MISMATCH: f: gzip member 1: CRC-32 or length does not match its content",
    );
    expect(fails(() => splitGzipMembers(a, "f", 1000))).toMatch(/^INVALID_FORMAT: f: gzip member 1: .+/);
  });
});

describe("tar segments", () => {
  it("reads PAX records, long PAX paths, symlinks, and segments without end blocks", () => {
    const long = `usr/share/${"d".repeat(120)}/file`;
    const tar = writeTar(
      [
        { name: "usr/", type: "directory", mode: 0o755 },
        {
          name: "x",
          type: "file",
          mode: 0o600,
          content: Buffer.from("hi"),
          pax: { path: long, "APK-TOOLS.checksum.SHA1": "ab" },
        },
        { name: "bin/sh", type: "symlink", mode: 0o777, linkname: "/bin/busybox" },
      ],
      false,
    );
    const e = readTar(tar, "t");
    expect(
      e.map((x) => [
        x.name,
        x.type,
        x.mode.toString(8),
        x.linkname,
        x.data.toString(),
        x.pax["APK-TOOLS.checksum.SHA1"],
      ]),
    ).toEqual([
      ["usr/", "directory", "755", "", "", undefined],
      [long, "file", "600", "", "hi", "ab"],
      ["bin/sh", "symlink", "777", "/bin/busybox", "", undefined],
    ]);
    expect(readTar(writeTar([{ name: "a", type: "file", mode: 0o644 }], true), "t")).toHaveLength(1);
  });

  it("a header whose checksum does not match, or a truncated entry: INVALID_FORMAT", () => {
    const tar = writeTar([{ name: "a", type: "file", mode: 0o644, content: Buffer.alloc(600) }], false);
    const bad = Buffer.from(tar);
    bad[0] = 0x62; // "b"
    expect(fails(() => readTar(bad, "t"))).toBe("INVALID_FORMAT: t: tar header at byte 0: checksum mismatch");
    expect(fails(() => readTar(tar.subarray(0, 700), "t"))).toBe(
      "INVALID_FORMAT: t: tar entry at byte 0: truncated",
    );
  });
});
