/**
 * ldconfig's ELF reading as a file summary (ELF_LIBRARY_SUMMARY): the same result as reading the
 * file, for the host's real libraries, holding nothing of the content; made for library-named
 * files of the library directories of a real (in-memory) layer, and for nothing else.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildTar, MemoryLayer } from "../../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../../rootfs/index.js";
import { dpkgBackend } from "../../backend.js";
import { ELF_LIBRARY_SUMMARY, readElfLibrary } from "../ldconfig/index.js";

const HOST_LIBS = "/usr/lib/x86_64-linux-gnu";

/** Every object reachable from `v` (arrays and plain objects), to look for retained binary data. */
function binaryInside(v: unknown, seen = new Set<unknown>()): string[] {
  if (v === null || typeof v !== "object" || seen.has(v)) return [];
  seen.add(v);
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof SharedArrayBuffer)
    return [v.constructor.name];
  return Object.values(v).flatMap((x) => binaryInside(x, seen));
}

describe("ELF_LIBRARY_SUMMARY", () => {
  it("is what reading the file gives, for the host's real libraries, and keeps no binary data", () => {
    const names = readdirSync(HOST_LIBS)
      .filter((n) => /^lib.*\.so\.\d/.test(n))
      .filter((n) => {
        const st = statSync(join(HOST_LIBS, n), { throwIfNoEntry: false });
        return st?.isFile() === true && st.size <= ELF_LIBRARY_SUMMARY.maxFileBytes;
      })
      .slice(0, 60);
    expect(names.length).toBeGreaterThan(20);
    let libraries = 0;
    for (const n of names) {
      const content = readFileSync(join(HOST_LIBS, n));
      const summary = ELF_LIBRARY_SUMMARY.summarize(content);
      expect(summary, n).toEqual(readElfLibrary(content));
      expect(binaryInside(summary), n).toEqual([]);
      if (summary.kind === "library") libraries++;
    }
    expect(libraries).toBeGreaterThan(20);
    // a skipped file keeps its reason only
    const skipped = ELF_LIBRARY_SUMMARY.summarize(
      Buffer.from("not an ELF file at all, just text....".repeat(4)),
    );
    expect(skipped).toEqual({ kind: "skipped", reason: "not an ELF file" });
  });

  it("is declared by the dpkg backend and made for library names in the library directories only", async () => {
    expect(dpkgBackend.fileSummaries).toContain(ELF_LIBRARY_SUMMARY);
    const libz = readFileSync(join(HOST_LIBS, "libz.so.1"));
    const libc = readFileSync(join(HOST_LIBS, "libc.so.6"));
    const f = (name: string, content: Buffer | string) => ({ name, content });
    const d = (name: string) => ({ name, type: "directory" as const });
    const raw = await buildTar([
      d("./"),
      d("usr/"),
      d("usr/lib/"),
      d("usr/lib/x86_64-linux-gnu/"),
      f("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", libz),
      f("usr/lib/x86_64-linux-gnu/libc.so.6", libc),
      f("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", libc),
      f("usr/lib/x86_64-linux-gnu/notes.txt", libz),
      d("usr/lib/x86_64-linux-gnu/gconv/"),
      f("usr/lib/x86_64-linux-gnu/gconv/libGB.so", libz),
      d("usr/local/"),
      d("usr/local/lib/"),
      f("usr/local/lib/libz.so.1", libz),
      d("opt/"),
      d("opt/vendor/"),
      f("opt/vendor/libz.so.1", libz),
      { name: "lib", type: "symlink", linkname: "usr/lib" },
    ]);
    const fs = new LayeredFs([MemoryLayer.fromTar(raw)], "test image", {
      fileSummaries: [ELF_LIBRARY_SUMMARY],
    });
    try {
      const zlib = readElfLibrary(libz);
      expect(zlib).toMatchObject({ kind: "library", library: { soname: "libz.so.1" } });
      for (const p of [
        "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
        "/lib/x86_64-linux-gnu/libz.so.1.2.13",
        "/usr/local/lib/libz.so.1",
      ])
        expect(await fs.summary(p, ELF_LIBRARY_SUMMARY), p).toEqual(zlib);
      expect(await fs.summary("/usr/lib/x86_64-linux-gnu/libc.so.6", ELF_LIBRARY_SUMMARY)).toEqual(
        readElfLibrary(libc),
      );
      expect(await fs.summary("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ELF_LIBRARY_SUMMARY)).toEqual(
        readElfLibrary(libc),
      );
      // not a library name, a subdirectory ldconfig does not scan, a directory only ld.so.conf names
      for (const p of [
        "/usr/lib/x86_64-linux-gnu/notes.txt",
        "/usr/lib/x86_64-linux-gnu/gconv/libGB.so",
        "/opt/vendor/libz.so.1",
      ])
        expect(await fs.summary(p, ELF_LIBRARY_SUMMARY), p).toBeUndefined();
      // the summaries kept nothing of the contents
      expect(fs.stats().layers[0]).toMatchObject({ reads: 1, capturedBytes: 0 });
    } finally {
      await fs.close();
    }
  });
});
