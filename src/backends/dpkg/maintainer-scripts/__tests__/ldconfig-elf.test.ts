/**
 * The ELF reading of the native ldconfig. ORACLE: the host's own cache (`ldconfig -p`, written by
 * glibc's ldconfig from the same files) for real libraries; hand-made and damaged files for the
 * hostile cases (never a crash: ldconfig skips such a file).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { describe, expect, it } from "vitest";
import { readElfLibrary } from "../ldconfig/index.js";

function hostCache(): Array<{ soname: string; flags: string; path: string }> {
  const out = execFileSync("/sbin/ldconfig", ["-p"], { encoding: "utf8" });
  return [...out.matchAll(/^\t(\S+) \(([^)]*)\) => (\S+)$/gm)].map((m) => ({
    soname: m[1]!,
    flags: m[2]!,
    path: m[3]!,
  }));
}

/** A minimal little-endian ELF64 shared object: one PT_LOAD, a PT_DYNAMIC, a string table. */
function elf64(o: { machine?: number; type?: number; soname?: string; needed?: string[]; interp?: string }) {
  const strs: string[] = ["", ...(o.soname ? [o.soname] : []), ...(o.needed ?? [])];
  const strtab = Buffer.from(`${strs.join("\0")}\0`, "latin1");
  const strOff = (s: string) => strtab.indexOf(Buffer.from(`\0${s}\0`, "latin1")) + 1;
  const dyn: Array<[bigint, bigint]> = [];
  for (const n of o.needed ?? []) dyn.push([1n, BigInt(strOff(n))]);
  const phnum = o.interp ? 3 : 2;
  const phoff = 64;
  const dynOff = phoff + phnum * 56;
  const dynSize = (dyn.length + 3) * 16;
  const strtabOff = dynOff + dynSize;
  const interpOff = strtabOff + strtab.length;
  const interp = Buffer.from(`${o.interp ?? ""}\0`, "latin1");
  if (o.soname) dyn.push([14n, BigInt(strOff(o.soname))]);
  dyn.push([5n, BigInt(strtabOff + 0x1000)]); // DT_STRTAB as a virtual address (load bias 0x1000)
  dyn.push([0n, 0n]);
  const buf = Buffer.alloc(interpOff + interp.length);
  buf.write("\x7fELF", 0, "latin1");
  buf[4] = 2;
  buf[5] = 1;
  buf[6] = 1;
  buf.writeUInt16LE(o.type ?? 3, 16);
  buf.writeUInt16LE(o.machine ?? 62, 18);
  buf.writeBigUInt64LE(BigInt(phoff), 32);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(phnum, 56);
  const ph = (i: number, type: number, off: number, vaddr: number, size: number) => {
    const p = phoff + i * 56;
    buf.writeUInt32LE(type, p);
    buf.writeBigUInt64LE(BigInt(off), p + 8);
    buf.writeBigUInt64LE(BigInt(vaddr), p + 16);
    buf.writeBigUInt64LE(BigInt(size), p + 32);
  };
  ph(0, 1, 0, 0x1000, buf.length);
  ph(1, 2, dynOff, dynOff + 0x1000, dynSize);
  if (o.interp) ph(2, 3, interpOff, interpOff + 0x1000, interp.length);
  dyn.forEach(([t, v], i) => {
    buf.writeBigInt64LE(t, dynOff + i * 16);
    buf.writeBigUInt64LE(v, dynOff + i * 16 + 8);
  });
  strtab.copy(buf, strtabOff);
  interp.copy(buf, interpOff);
  return buf;
}

describe("ldconfig's ELF reading", () => {
  it("gives every library in the host's cache its cached soname and type", () => {
    const entries = hostCache();
    expect(entries.length).toBeGreaterThan(50);
    for (const e of entries) {
      const r = readElfLibrary(readFileSync(e.path));
      expect(r.kind, e.path).toBe("library");
      if (r.kind !== "library") continue;
      // a cached `libfoo.so` development link keeps its own name (ldconfig's is_link rule)
      expect([r.library.soname, basename(e.path)], e.path).toContain(e.soname);
      expect(e.flags.split(",").slice(0, 2).join(","), e.path).toBe(
        r.library.flags === 0x303 ? "libc6,x86-64" : `flags ${r.library.flags}`,
      );
    }
  });

  it("reads a hand-made object: soname, libc6 by DT_NEEDED; another machine or not ET_DYN is skipped", () => {
    const so = readElfLibrary(elf64({ soname: "libt.so.1", needed: ["libc.so.6"] }));
    expect(so).toEqual({ kind: "library", library: { flags: 0x303, soname: "libt.so.1", osversion: 0 } });
    const noSoname = readElfLibrary(elf64({}));
    expect(noSoname).toMatchObject({ kind: "library", library: { soname: undefined } });
    expect(readElfLibrary(elf64({ machine: 183, soname: "x" }))).toMatchObject({ kind: "skipped" });
    expect(readElfLibrary(elf64({ type: 2, soname: "x" }))).toMatchObject({ kind: "skipped" });
  });

  it("skips what is not a shared object, refuses a.out", () => {
    expect(readElfLibrary(Buffer.from("/* GNU ld script */\nGROUP ( libc.so.6 )\n".repeat(3)))).toMatchObject(
      {
        kind: "skipped",
      },
    );
    const aout = Buffer.alloc(128);
    aout.writeUInt32LE(0o413, 0);
    expect(readElfLibrary(aout)).toMatchObject({ kind: "unsupported" });
    expect(readElfLibrary(Buffer.alloc(0))).toMatchObject({ kind: "skipped" });
  });

  it("never crashes on truncated or damaged files (hostile input)", () => {
    const real = readFileSync(hostCache().find((e) => e.soname === "libz.so.1")!.path);
    const made = elf64({ soname: "libt.so.1", needed: ["libc.so.6"] });
    for (const src of [real, made]) {
      for (const n of [0, 4, 63, 64, 65, 100, 200, 500, 1000, src.length >> 1, src.length - 1]) {
        const r = readElfLibrary(src.subarray(0, Math.max(0, n)));
        expect(["skipped", "library"]).toContain(r.kind);
      }
    }
    // deterministic byte damage in the headers, program headers and dynamic section
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(i % 2 ? made : real.subarray(0, 65536));
      for (let k = 0; k < 1 + (rnd() % 8); k++) b[rnd() % Math.min(b.length, 1024)] = rnd() & 0xff;
      const r = readElfLibrary(b);
      expect(["skipped", "library", "unsupported"]).toContain(r.kind);
    }
    // offsets pointing far outside the file
    const far = Buffer.from(made);
    far.writeBigUInt64LE(0xffffffffffff0000n, 32);
    expect(readElfLibrary(far)).toMatchObject({ kind: "skipped" });
    const badStr = Buffer.from(made);
    badStr.writeBigUInt64LE(0x7fffffffn, 64 + 2 * 56 + 8); // first dynamic entry's value (DT_NEEDED name)
    expect(readElfLibrary(badStr)).toMatchObject({ kind: "skipped" });
  });

  it("reads a file in pieces exactly as it reads it whole (a large library is not joined)", () => {
    const cache = hostCache();
    const real = ["libz.so.1", "libc.so.6"].map((n) => readFileSync(cache.find((e) => e.soname === n)!.path));
    const made = elf64({ soname: "libt.so.1", needed: ["libc.so.6"], interp: "/lib64/ld-linux-x86-64.so.2" });
    /** `b` cut every `size` bytes, with an empty piece now and then. */
    const piecesOf = (b: Buffer, size: number) => {
      const out: Buffer[] = [];
      for (let at = 0; at < b.length; at += size)
        out.push(b.subarray(at, at + size), ...(at % 3 ? [] : [b.subarray(0, 0)]));
      return out;
    };
    let seed = 7;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const damaged = Array.from({ length: 200 }, (_, i) => {
      const b = Buffer.from(i % 2 ? made : real[0]!.subarray(0, 65536));
      for (let k = 0; k < 1 + (rnd() % 8); k++) b[rnd() % Math.min(b.length, 1024)] = rnd() & 0xff;
      return b;
    });
    for (const whole of [...real, made, made.subarray(0, 300), ...damaged]) {
      const expected = readElfLibrary(whole);
      for (const size of whole.length <= 4096
        ? [1, 3, 7, 64]
        : whole.length <= 65536
          ? [7, 64, 4093]
          : [61, 4093, 65536]) {
        expect(readElfLibrary(piecesOf(whole, size)), `${whole.length} bytes in pieces of ${size}`).toEqual(
          expected,
        );
      }
    }
    expect(readElfLibrary(piecesOf(real[1]!, 65536))).toMatchObject({
      kind: "library",
      library: { soname: "libc.so.6" },
    });
  });
});
