import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../../errors.js";
import {
  FILE_FLAG,
  parseHeaderBlob,
  parseHeaderWithMagic,
  sourceRpmName,
  sourceRpmVersion,
  TAG,
  TYPE,
} from "../header.js";

/**
 * Synthetic blobs for the hostile cases; the real ones (rpmbuild packages, a dnf-installed
 * rpmdb) are checked against rpm itself in test/integration/rpm.rpmdb.test.ts.
 */
type Entry = { tag: number; type: number; value: number[] | string[] | Buffer };

function encode(entries: Entry[]): Buffer {
  const data: Buffer[] = [];
  let size = 0;
  const index: Buffer[] = [];
  const align = (n: number): void => {
    const pad = (n - (size % n)) % n;
    if (pad) {
      data.push(Buffer.alloc(pad));
      size += pad;
    }
  };
  for (const e of entries) {
    let bytes: Buffer;
    let count: number;
    if (e.type === TYPE.STRING || e.type === TYPE.STRING_ARRAY || e.type === TYPE.I18NSTRING) {
      const ss = e.value as string[];
      bytes = Buffer.concat(ss.map((s) => Buffer.from(`${s}\0`, "utf8")));
      count = ss.length;
    } else if (e.type === TYPE.BIN) {
      bytes = e.value as Buffer;
      count = bytes.length;
    } else {
      const w = e.type === TYPE.INT16 ? 2 : e.type === TYPE.INT32 ? 4 : 1;
      align(w);
      const ns = e.value as number[];
      bytes = Buffer.alloc(ns.length * w);
      for (const [i, n] of ns.entries()) bytes.writeUIntBE(n, i * w, w);
      count = ns.length;
    }
    const ie = Buffer.alloc(16);
    ie.writeUInt32BE(e.tag, 0);
    ie.writeUInt32BE(e.type, 4);
    ie.writeUInt32BE(size, 8);
    ie.writeUInt32BE(count, 12);
    index.push(ie);
    data.push(bytes);
    size += bytes.length;
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(entries.length, 0);
  head.writeUInt32BE(size, 4);
  return Buffer.concat([head, ...index, ...data]);
}

const s = (tag: number, v: string): Entry => ({ tag, type: TYPE.STRING, value: [v] });
const sa = (tag: number, v: string[]): Entry => ({ tag, type: TYPE.STRING_ARRAY, value: v });
const i32 = (tag: number, v: number[]): Entry => ({ tag, type: TYPE.INT32, value: v });
const i16 = (tag: number, v: number[]): Entry => ({ tag, type: TYPE.INT16, value: v });

const BASE: Entry[] = [
  s(TAG.NAME, "openssl-libs"),
  s(TAG.VERSION, "3.0.7"),
  s(TAG.RELEASE, "27.el9"),
  i32(TAG.EPOCH, [1]),
  s(TAG.ARCH, "x86_64"),
  s(TAG.SOURCERPM, "openssl-3.0.7-27.el9.src.rpm"),
  sa(TAG.PROVIDENAME, ["openssl-libs", "libssl.so.3()(64bit)"]),
  i32(TAG.PROVIDEFLAGS, [8, 0]),
  sa(TAG.PROVIDEVERSION, ["1:3.0.7-27.el9", ""]),
  sa(TAG.REQUIRENAME, ["/bin/sh"]),
  i32(TAG.REQUIREFLAGS, [0]),
  sa(TAG.REQUIREVERSION, [""]),
  sa(TAG.BASENAMES, ["libssl.so.3", "openssl.cnf", "libssl.so"]),
  i32(TAG.DIRINDEXES, [0, 1, 0]),
  sa(TAG.DIRNAMES, ["/usr/lib64/", "/etc/pki/tls/"]),
  i16(TAG.FILEMODES, [0o100755, 0o100644, 0o120777]),
  i32(TAG.FILEFLAGS, [0, FILE_FLAG.CONFIG | FILE_FLAG.NOREPLACE, 0]),
  sa(TAG.FILEDIGESTS, ["ab".repeat(32), "cd".repeat(32), ""]),
  i32(TAG.FILESIZES, [100, 20, 11]),
  sa(TAG.FILELINKTOS, ["", "", "libssl.so.3"]),
  sa(TAG.FILEUSERNAME, ["root", "root", "root"]),
  sa(TAG.FILEGROUPNAME, ["root", "root", "root"]),
  i32(TAG.FILEDIGESTALGO, [8]),
];

function invalid(fn: () => unknown): OcipatchError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OcipatchError);
    const err = e as OcipatchError;
    expect(err.code).toBe("INVALID_FORMAT");
    expect(err.message).not.toContain("\n");
    return err;
  }
  throw new Error("expected INVALID_FORMAT, it parsed");
}

describe("rpm header", () => {
  it("reads the typed fields of a header", () => {
    const h = parseHeaderBlob(encode(BASE), "test");
    expect([h.name, h.version, h.release, h.epoch, h.arch, h.sourceRpm]).toEqual([
      "openssl-libs",
      "3.0.7",
      "27.el9",
      1,
      "x86_64",
      "openssl-3.0.7-27.el9.src.rpm",
    ]);
    expect(h.provides).toEqual([
      { name: "openssl-libs", flags: 8, version: "1:3.0.7-27.el9" },
      { name: "libssl.so.3()(64bit)", flags: 0, version: "" },
    ]);
    expect(h.requires).toEqual([{ name: "/bin/sh", flags: 0, version: "" }]);
    expect(h.files.map((f) => [f.path, f.mode, f.flags, f.size, f.linkTo])).toEqual([
      ["/usr/lib64/libssl.so.3", 0o100755, 0, 100, ""],
      ["/etc/pki/tls/openssl.cnf", 0o100644, FILE_FLAG.CONFIG | FILE_FLAG.NOREPLACE, 20, ""],
      ["/usr/lib64/libssl.so", 0o120777, 0, 11, "libssl.so.3"],
    ]);
    expect(h.fileDigestAlgo).toBe(8);
  });

  it("reads a header behind its magic and reports its length", () => {
    const blob = encode(BASE);
    const withMagic = Buffer.concat([
      Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]),
      blob,
      Buffer.from("payload"),
    ]);
    const { header, length } = parseHeaderWithMagic(withMagic, "test.rpm");
    expect(header.name).toBe("openssl-libs");
    expect(length).toBe(blob.length + 8);
    invalid(() => parseHeaderWithMagic(blob, "test.rpm"));
  });

  it("names the source package and its version from the source rpm", () => {
    expect(sourceRpmName("openssl-3.0.7-27.el9.src.rpm")).toBe("openssl");
    expect(sourceRpmName("python3-dnf-plugins-core-4.3.0-13.el9.src.rpm")).toBe("python3-dnf-plugins-core");
    expect(sourceRpmVersion("hello-1.0~rc1-1.el9.src.rpm")).toBe("1.0~rc1-1.el9");
    expect(sourceRpmName("garbage")).toBeUndefined();
  });

  it("fails every truncation with one INVALID_FORMAT line", () => {
    const blob = encode(BASE);
    for (let n = 0; n < blob.length; n++) invalid(() => parseHeaderBlob(blob.subarray(0, n), "test"));
    invalid(() => parseHeaderBlob(Buffer.concat([blob, Buffer.alloc(1)]), "test"));
  });

  it("refuses hostile counts and offsets without allocating for them", () => {
    const blob = encode(BASE);
    const entry = (i: number): number => 8 + 16 * i;
    const patch = (at: number, v: number): Buffer => {
      const b = Buffer.from(blob);
      b.writeUInt32BE(v, at);
      return b;
    };
    expect(invalid(() => parseHeaderBlob(patch(0, 0xffffffff), "test")).message).toContain("index entries");
    invalid(() => parseHeaderBlob(patch(4, 0xffffffff), "test"));
    // the string array of BASENAMES (entry 12) claims 2^32-1 strings
    expect(invalid(() => parseHeaderBlob(patch(entry(12) + 12, 0xffffffff), "test")).message).toContain(
      "runs past",
    );
    // FILEMODES (entry 15) with a count past the data, an offset past the data, a bad type
    invalid(() => parseHeaderBlob(patch(entry(15) + 12, 0x7fffffff), "test"));
    invalid(() => parseHeaderBlob(patch(entry(15) + 8, 0x7ffffff0), "test"));
    invalid(() => parseHeaderBlob(patch(entry(15) + 8, 0xfffffff0), "test"));
    invalid(() => parseHeaderBlob(patch(entry(15) + 4, 77), "test"));
    // NAME with count 2 (a STRING has exactly one value), EPOCH misaligned
    invalid(() => parseHeaderBlob(patch(entry(0) + 12, 2), "test"));
    const epochOffset = blob.readUInt32BE(entry(3) + 8);
    invalid(() => parseHeaderBlob(patch(entry(3) + 8, epochOffset + 1), "test"));
  });

  it("refuses inconsistent file and dependency columns", () => {
    const replace = (tag: number, e: Entry): Entry[] => BASE.map((b) => (b.tag === tag ? e : b));
    expect(
      invalid(() => parseHeaderBlob(encode(replace(TAG.DIRINDEXES, i32(TAG.DIRINDEXES, [0, 5, 0]))), "t"))
        .message,
    ).toContain("directory index");
    invalid(() => parseHeaderBlob(encode(replace(TAG.FILEMODES, i16(TAG.FILEMODES, [0o100755]))), "t"));
    invalid(() => parseHeaderBlob(encode(replace(TAG.PROVIDEFLAGS, i32(TAG.PROVIDEFLAGS, [8]))), "t"));
    invalid(() => parseHeaderBlob(encode(replace(TAG.NAME, i32(TAG.NAME, [1]))), "t"));
    invalid(() => parseHeaderBlob(encode(BASE.filter((e) => e.tag !== TAG.VERSION)), "t"));
    // an unterminated last string
    const blob = encode([...BASE, s(TAG.LICENSE, "MIT")]);
    invalid(() =>
      parseHeaderBlob(Buffer.concat([blob.subarray(0, blob.length - 4), Buffer.from("abcd")]), "t"),
    );
  });

  it("never crashes on random corruption: it parses or fails with INVALID_FORMAT", () => {
    const blob = encode(BASE);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: blob.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (flips) => {
          const b = Buffer.from(blob);
          for (const [at, v] of flips) b[at] = v;
          try {
            parseHeaderBlob(b, "t");
          } catch (e) {
            if (!(e instanceof OcipatchError) || e.code !== "INVALID_FORMAT") throw e;
            expect(e.message).not.toContain("\n");
          }
        },
      ),
      { numRuns: 3000, seed: 14 },
    );
  });
});
