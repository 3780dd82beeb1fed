/**
 * The native ldconfig end to end on the host's own libraries. ORACLE: the host's glibc ldconfig
 * (`ldconfig -X -C FILE`: the same directories, a fresh cache in a scratch file, no link touched);
 * our cache must be the same bytes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  dlCacheLibcmp,
  finalizeStrings,
  readCache,
  readLdSoConf,
  resolveDirs,
  scanLibraryDirs,
  sortEntries,
  writeCache,
} from "../ldconfig/index.js";
import { DirView } from "./dir-view.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-ldconfig-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function realCache(): Buffer {
  const file = join(work, "ld.so.cache");
  execFileSync("/sbin/ldconfig", ["-X", "-C", file], { stdio: ["ignore", "ignore", "pipe"] });
  return readFileSync(file);
}

describe("native ldconfig on the host's libraries", () => {
  it("writes the same /etc/ld.so.cache bytes as the host's ldconfig (glibc 2.36)", async () => {
    const real = realCache();
    const info = readCache(real);
    expect(info?.generator).toMatch(/^ldconfig \(.*GLIBC 2\.3[3-9]/);
    const view = new DirView("/");
    const conf = await readLdSoConf(view);
    const dirs = await resolveDirs(
      view,
      [...conf.map((c) => c.path), "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"],
      "2.36",
    );
    const scan = await scanLibraryDirs(view, dirs, "2.36");
    const ours = writeCache("2.36", sortEntries("2.36", scan.added), info!.generator);
    expect(scan.added.length).toBe(info!.entries.length);
    expect(readCache(ours)!.entries).toEqual(info!.entries);
    expect(ours.equals(real)).toBe(true);
  });

  it("re-writes a real cache from its own entries, and its order is _dl_cache_libcmp descending", () => {
    const real = realCache();
    const info = readCache(real)!;
    expect(writeCache("2.36", sortEntries("2.36", info.entries), info.generator).equals(real)).toBe(true);
    for (let i = 1; i < info.entries.length; i++) {
      const a = Buffer.from(info.entries[i - 1]!.soname);
      const b = Buffer.from(info.entries[i]!.soname);
      expect(dlCacheLibcmp(a, b)).toBeGreaterThanOrEqual(0);
    }
  });
});

describe("cache pieces", () => {
  it("_dl_cache_libcmp compares digit runs as numbers", () => {
    const c = (a: string, b: string) => Math.sign(dlCacheLibcmp(Buffer.from(a), Buffer.from(b)));
    expect(c("libfoo.so.10", "libfoo.so.9")).toBe(1);
    expect(c("libfoo.so.1", "libfoo.so.01")).toBe(0);
    expect(c("libfoo.so", "libfoo.so.1")).toBe(-1);
    expect(c("liba.so", "libb.so")).toBe(-1);
    expect(c("lib1", "liba")).toBe(1);
    expect(c("lib99999999999999999999", "lib1")).not.toBeNaN();
  });

  it("shares suffixes in the string table (glibc's tail merging)", () => {
    const { table, offsets } = finalizeStrings(["/lib/libz.so.1", "libz.so.1", "libc.so.6", "libz.so.1"]);
    // sorted by reversed string, descending: "6.os.cbil" before "1.os.zbil/bil/" before its suffix
    expect(table.toString("latin1")).toBe("libc.so.6\0/lib/libz.so.1\0");
    expect(offsets.get("libc.so.6")).toBe(0);
    expect(offsets.get("/lib/libz.so.1")).toBe(10);
    expect(offsets.get("libz.so.1")).toBe(15);
  });

  it("2.31: keeps the OS ABI version, strings in entry order, no extension", () => {
    const e = (soname: string, osversion: number) => ({
      soname,
      path: `/lib/${soname}`,
      flags: 0x303,
      osversion,
    });
    const sorted = sortEntries("2.31", [e("libb.so.1", 0), e("liba.so.1", 0x30200), e("libb.so.1", 0x30200)]);
    expect(sorted.map((x) => [x.soname, x.osversion])).toEqual([
      ["libb.so.1", 0x30200],
      ["libb.so.1", 0],
      ["liba.so.1", 0x30200],
    ]);
    const bytes = writeCache("2.31", sorted);
    expect(bytes.length).toBe(48 + 3 * 24 + 3 * ("libb.so.1".length + "/lib/libb.so.1".length + 2));
    expect(readCache(bytes)).toEqual({
      entries: sorted,
      generator: undefined,
      hasExtensions: false,
      hwcapEntries: 0,
    });
  });

  it("refuses what is not a new-format cache", () => {
    expect(readCache(Buffer.from("ld.so-1.7.0\0\0\0\0\0"))).toBeUndefined();
    const bad = Buffer.alloc(48);
    bad.write("glibc-ld.so.cache1.1", 0, "latin1");
    bad.writeUInt32LE(0xffffffff, 20);
    expect(readCache(bad)).toBeUndefined();
  });
});
