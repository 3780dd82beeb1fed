import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import type { Compression } from "../../image/media-types.js";
import { sha256 } from "../../util/digest.js";
import { LayeredFs } from "../layered-fs.js";
import { buildTar, type EntrySpec, MemoryLayer } from "./synthetic.js";

const dir = (name: string): EntrySpec => ({ name, type: "directory" });
const file = (name: string, content = `content of ${name}\n`, mode?: number): EntrySpec => ({
  name,
  content,
  ...(mode === undefined ? {} : { mode }),
});
const link = (name: string, linkname: string): EntrySpec => ({ name, type: "symlink", linkname });
const hard = (name: string, linkname: string): EntrySpec => ({ name, type: "link", linkname });

/** Keeps a package database (as a backend asks for it) in memory. */
const CAPTURE_VAR = { extraCapturePatterns: ["var/lib/**"] };

/** Layers bottom to top. */
async function fsOf(layers: EntrySpec[][], compression: Compression = "gzip", opts = {}) {
  const ls = await Promise.all(layers.map((l) => MemoryLayer.of(l, compression)));
  return { fs: new LayeredFs(ls, "test image", opts), layers: ls };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OcipatchError) return e.code;
    throw e;
  }
  return "no error";
}

const base: EntrySpec[] = [
  dir("./"),
  dir("./etc/"),
  file("./etc/hostname", "base\n"),
  file("./etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
  dir("./usr/"),
  dir("./usr/lib/"),
  file("./usr/lib/os-release", 'ID=debian\nVERSION_ID="12"\n'),
  link("./etc/os-release", "../usr/lib/os-release"),
  dir("./usr/bin/"),
  file("./usr/bin/tool", "ELF tool", 0o755),
  link("./bin", "usr/bin"),
  link("./lib", "/usr/lib"),
  dir("./var/"),
  dir("./var/lib/"),
  dir("./var/lib/pkgdb/"),
  file("./var/lib/pkgdb/status", "Package: base\n"),
  dir("./opt/"),
  dir("./opt/app/"),
  file("./opt/app/a.txt"),
  file("./opt/app/b.txt"),
  dir("./opt/app/sub/"),
  file("./opt/app/sub/c.txt"),
];

describe("LayeredFs lookups and symlinks", () => {
  it("reads files through relative and absolute symlinks, with parents resolved", async () => {
    const { fs } = await fsOf([base]);
    expect((await fs.readFile("/etc/os-release")).toString()).toContain("ID=debian");
    expect(await fs.realpath("/etc/os-release")).toBe("/usr/lib/os-release");
    expect(await fs.realpath("/bin/tool")).toBe("/usr/bin/tool");
    expect(await fs.realpath("/lib/os-release")).toBe("/usr/lib/os-release");
    expect((await fs.readFile("/bin/tool")).toString()).toBe("ELF tool");
    const st = await fs.stat("/bin/tool");
    expect(st).toMatchObject({ path: "/usr/bin/tool", type: "file", mode: 0o755, size: 8, layerIndex: 0 });
    const lst = await fs.lstat("/bin");
    expect(lst).toMatchObject({ path: "/bin", type: "symlink", linkTarget: "usr/bin" });
    expect(await fs.lstat("/etc/nothing")).toBeUndefined();
    expect(await fs.exists("/etc/nothing")).toBe(false);
    expect(await fs.exists("/lib/os-release")).toBe(true);
    expect(await code(fs.readFile("/etc/nothing"))).toBe("NOT_FOUND");
    expect(await code(fs.readFile("/etc"))).toBe("NOT_FOUND");
    expect(await fs.realpath("/")).toBe("/");
    expect(await fs.realpath("//usr/./lib/../bin/")).toBe("/usr/bin");
  });

  it("never leaves the root: '..' at the root stays at the root", async () => {
    const { fs } = await fsOf([
      [...base, link("./up", "../../../../etc"), link("./etc/abs", "/../../usr/../etc/passwd")],
    ]);
    expect(await fs.realpath("/../../etc/passwd")).toBe("/etc/passwd");
    expect(await fs.realpath("/up/passwd")).toBe("/etc/passwd");
    expect(await fs.realpath("/etc/abs")).toBe("/etc/passwd");
    expect((await fs.readFile("up/hostname")).toString()).toBe("base\n");
  });

  it("detects symlink loops", async () => {
    const { fs } = await fsOf([
      [...base, link("./loop1", "loop2"), link("./loop2", "/loop1"), link("./self", "self")],
    ]);
    expect(await code(fs.realpath("/loop1"))).toBe("NOT_FOUND");
    expect(await code(fs.readFile("/self"))).toBe("NOT_FOUND");
    await expect(fs.realpath("/loop1/x")).rejects.toThrow(/too many levels of symbolic links/);
    expect(await fs.exists("/loop1")).toBe(false);
    // lstat does not follow the final link
    expect(await fs.lstat("/loop1")).toMatchObject({ type: "symlink" });
  });

  it("reports a file used as a directory", async () => {
    const { fs } = await fsOf([base]);
    await expect(fs.realpath("/etc/passwd/x")).rejects.toThrow(/is not a directory/);
  });

  it("resolves parents of missing paths when asked (placing new files)", async () => {
    const { fs } = await fsOf([base]);
    const r = await fs.resolve("/lib/x86_64-linux-gnu/libnew.so", { mustExist: false });
    expect(r).toEqual({ path: "/usr/lib/x86_64-linux-gnu/libnew.so", entry: undefined });
    const r2 = await fs.resolve("/bin", { followFinal: false });
    expect(r2.path).toBe("/bin");
    expect(r2.entry?.type).toBe("symlink");
  });

  it("synthesises implicit parent directories", async () => {
    const { fs } = await fsOf([[file("deep/er/file.txt", "x")]]);
    expect(await fs.stat("/deep/er")).toMatchObject({ type: "directory", implicit: true });
    expect(await fs.readdir("/deep")).toEqual(["er"]);
    expect(await fs.readdir("/")).toEqual(["deep"]);
  });
});

describe("LayeredFs OCI layer semantics", () => {
  it("applies whiteouts to lower layers only", async () => {
    const { fs } = await fsOf([
      base,
      [dir("etc/"), file("etc/.wh.hostname"), file("opt/app/.wh.sub"), file("opt/app/new.txt", "new")],
    ]);
    expect(await fs.lstat("/etc/hostname")).toBeUndefined();
    expect(await fs.exists("/etc/passwd")).toBe(true);
    expect(await fs.lstat("/opt/app/sub")).toBeUndefined();
    expect(await fs.lstat("/opt/app/sub/c.txt")).toBeUndefined();
    expect(await fs.readdir("/opt/app")).toEqual(["a.txt", "b.txt", "new.txt"]);
    expect(await fs.readdir("/etc")).toEqual(["os-release", "passwd"]);
  });

  it("keeps entries of the whiteout's own layer and lets upper layers re-create paths", async () => {
    const { fs } = await fsOf([
      base,
      [file("etc/.wh.hostname"), file("etc/hostname", "same layer\n")],
      [file("opt/.wh.app")],
      [file("opt/app/again.txt", "again")],
    ]);
    expect((await fs.readFile("/etc/hostname")).toString()).toBe("same layer\n");
    expect(await fs.readdir("/opt/app")).toEqual(["again.txt"]);
    expect(await fs.lstat("/opt/app/a.txt")).toBeUndefined();
  });

  it("opaque directories hide lower content but keep their own layer's", async () => {
    const { fs } = await fsOf([
      base,
      [dir("opt/app/"), file("opt/app/.wh..wh..opq"), file("opt/app/only.txt", "only")],
    ]);
    expect(await fs.readdir("/opt/app")).toEqual(["only.txt"]);
    expect(await fs.lstat("/opt/app/a.txt")).toBeUndefined();
    expect(await fs.lstat("/opt/app/sub/c.txt")).toBeUndefined();
    expect((await fs.readFile("/opt/app/only.txt")).toString()).toBe("only");
  });

  it("a file replacing a directory hides the directory's lower content", async () => {
    const { fs } = await fsOf([base, [file("opt/app", "now a file")]]);
    expect(await fs.lstat("/opt/app/a.txt")).toBeUndefined();
    expect((await fs.readFile("/opt/app")).toString()).toBe("now a file");
    await expect(fs.readdir("/opt/app")).rejects.toThrow(/not a directory/);
  });

  it("a symlink replacing a directory redirects lookups", async () => {
    const { fs } = await fsOf([base, [link("opt/app", "/etc")]]);
    expect((await fs.readFile("/opt/app/hostname")).toString()).toBe("base\n");
    expect(await fs.lstat("/opt/app/a.txt")).toBeUndefined();
  });

  it("upper layers win and report their layer index", async () => {
    const { fs, layers } = await fsOf([base, [file("etc/hostname", "upper\n", 0o600)]]);
    expect((await fs.readFile("/etc/hostname")).toString()).toBe("upper\n");
    const st = await fs.stat("/etc/hostname");
    expect(st).toMatchObject({ layerIndex: 1, mode: 0o600, layerDigest: layers[1]!.digest });
    expect((await fs.stat("/etc/passwd"))?.layerIndex).toBe(0);
  });

  it("a hardlink to a target that exists in no layer is a HOSTILE_LAYER error, never a missing file", async () => {
    const { fs } = await fsOf([[...base, file("etc/a")], [hard("etc/b", "etc/missing")]]);
    for (const op of [() => fs.stat("/etc/b"), () => fs.readFile("/etc/b"), () => fs.exists("/etc/b")]) {
      expect(await op().catch((e: unknown) => e)).toMatchObject({
        code: "HOSTILE_LAYER",
        message: expect.stringMatching(/hardlink \/etc\/b points to \/etc\/missing, which does not exist/),
      });
    }
    const { fs: whole } = await fsOf([[...base, file("etc/a")], [hard("etc/b", "etc/missing")]]);
    await expect(whole.indexAllLayers()).rejects.toMatchObject({ code: "HOSTILE_LAYER" });
  });

  it("resolves hardlinks to their target's content, in the same and in lower layers", async () => {
    const { fs } = await fsOf(
      [
        [
          ...base,
          file("usr/bin/perl5.36", "PERL", 0o755),
          hard("usr/bin/perl", "usr/bin/perl5.36"),
          file("usr/bin/big", "B".repeat(100)),
        ],
        [
          hard("etc/perl-copy", "usr/bin/perl5.36"),
          hard("usr/bin/big2", "./usr/bin/big"),
          // a link, in the same layer, to a link into a lower layer
          hard("usr/bin/big2b", "usr/bin/big2"),
        ],
        [hard("usr/bin/big3", "usr/bin/big2")],
      ],
      "gzip",
      { capture: { patterns: ["etc/**"] } },
    );
    expect((await fs.readFile("/usr/bin/perl")).toString()).toBe("PERL");
    const st = await fs.lstat("/usr/bin/perl");
    expect(st).toMatchObject({ type: "file", size: 4, hardlinkTarget: "/usr/bin/perl5.36", mode: 0o755 });
    // cross-layer hardlinks resolve in the view below their layer
    expect((await fs.readFile("/etc/perl-copy")).toString()).toBe("PERL");
    expect(await fs.stat("/usr/bin/big2")).toMatchObject({ size: 100, layerIndex: 1 });
    expect((await fs.readFile("/usr/bin/big2")).toString()).toBe("B".repeat(100));
    expect(await fs.stat("/usr/bin/big2b")).toMatchObject({ size: 100, layerIndex: 1 });
    expect((await fs.readFile("/usr/bin/big2b")).toString()).toBe("B".repeat(100));
    // a chain of cross-layer hardlinks
    expect(await fs.stat("/usr/bin/big3")).toMatchObject({
      size: 100,
      layerIndex: 2,
      hardlinkTarget: "/usr/bin/big2",
    });
    expect((await fs.readFile("/usr/bin/big3")).length).toBe(100);
  });

  it.each(["gzip", "zstd", "none"] as const)("reads %s layers", async (c) => {
    const { fs } = await fsOf([base, [file("etc/hostname", `via ${c}\n`)]], c);
    expect((await fs.readFile("/etc/hostname")).toString()).toBe(`via ${c}\n`);
    expect((await fs.readFile("/bin/tool")).toString()).toBe("ELF tool");
  });
});

describe("LayeredFs laziness and caching", () => {
  let scratch: string | undefined;
  afterEach(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  it("stops at the top layer when it answers, and reads each layer once", async () => {
    const { fs, layers } = await fsOf(
      [
        base,
        [dir("var/"), dir("var/lib/"), dir("var/lib/pkgdb/"), file("var/lib/pkgdb/status", "Package: top\n")],
      ],
      "gzip",
      CAPTURE_VAR,
    );
    // /var, /var/lib, /var/lib/pkgdb are explicit directories in the top layer: it alone answers.
    expect((await fs.readFile("/var/lib/pkgdb/status")).toString()).toBe("Package: top\n");
    expect(layers.map((l) => l.opens)).toEqual([0, 1]);
    // An implicit parent (no header) could be a symlink below: the lower layer must be read.
    const { fs: fs3, layers: l3 } = await fsOf(
      [base, [file("var/lib/pkgdb/status", "Package: top\n")]],
      "gzip",
      CAPTURE_VAR,
    );
    expect((await fs3.readFile("/var/lib/pkgdb/status")).toString()).toBe("Package: top\n");
    expect(l3.map((l) => l.opens)).toEqual([1, 1]);
    await fs.readFile("/etc/passwd");
    const { fs: fs2, layers: l2 } = await fsOf([
      base,
      [file("etc/hostname", "top\n")],
      [dir("etc/"), file("etc/hello", "hi")],
    ]);
    expect((await fs2.readFile("/etc/hello")).toString()).toBe("hi");
    expect(l2.map((l) => l.opens)).toEqual([0, 0, 1]);
    expect(fs2.stats().layers.map((l) => l.index)).toEqual([2]);
    expect(fs2.stats().bytesDownloaded).toBe(l2[2]!.size);
    await fs2.readFile("/etc/hostname");
    await fs2.readFile("/etc/passwd");
    await fs2.readdir("/");
    expect(l2.map((l) => l.opens)).toEqual([1, 1, 1]);
    expect(fs2.stats().bytesDownloaded).toBe(l2.reduce((n, l) => n + l.size, 0));
    expect(layers.map((l) => l.opens)).toEqual([1, 1]);
  });

  it("prefetchLayers reads every layer once, two at a time from the top, and later reads wait for them", async () => {
    const { fs, layers } = await fsOf([
      base,
      [dir("./etc/"), file("./etc/one.conf", "one\n")],
      [dir("./etc/"), file("./etc/two.conf", "two\n")],
    ]);
    fs.prefetchLayers(2);
    // the top two are opened at once, before anything asks for a path
    await new Promise((r) => setImmediate(r));
    expect(layers.map((l) => l.opens)).toEqual([0, 1, 1]);
    expect((await fs.readFile("/usr/lib/os-release")).toString()).toContain("ID=debian");
    expect((await fs.readFile("/etc/two.conf")).toString()).toBe("two\n");
    expect(layers.map((l) => l.opens)).toEqual([1, 1, 1]);
    expect(fs.stats().layers.map((l) => l.reads)).toEqual([1, 1, 1]);
  });

  it("close() stops layer reads a prefetch started: a stalled download, and one whose request was still out", async () => {
    scratch = await mkdtemp(join(tmpdir(), "ocipatch-lfs-"));
    const upper = await MemoryLayer.of([dir("./etc/"), file("./etc/one.conf", "one\n")]);
    // a registry that sends the first 64 KiB of the base layer, then nothing more (the connection stays open)
    const stalled = await MemoryLayer.of([...base, file("usr/share/big", "y".repeat(4_000_000))], "none");
    const requested: string[] = [];
    let answer: (() => void) | undefined;
    const stall = (l: MemoryLayer, name: string, held: boolean) =>
      Object.assign(Object.create(l) as MemoryLayer, {
        async compressed(): Promise<Readable> {
          requested.push(name);
          if (held) await new Promise<void>((r) => (answer = r)); // response headers not there yet
          const body = new Readable({ read() {} });
          body.push(l.blob.subarray(0, 64 * 1024));
          return body;
        },
      });
    // 1. the download is running when close() comes
    const a = new LayeredFs([stall(stalled, "base", false), upper], "test image", { scratchDir: scratch });
    a.prefetchLayers();
    while (requested.length < 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    await a.close(); // hung before: the piped streams waited for an end that never came
    expect(await readdir(scratch)).toEqual([]);
    expect(await code(a.readFile("/etc/hostname"))).toBe("INTERNAL");
    // 2. the blob request is still out when close() comes; its stream arrives after
    const b = new LayeredFs([stall(stalled, "held", true), upper], "test image", { scratchDir: scratch });
    b.prefetchLayers();
    while (answer === undefined) await new Promise((r) => setTimeout(r, 5));
    const closing = b.close();
    answer();
    await closing;
    expect(await readdir(scratch)).toEqual([]);
  });

  it("re-reads uncaptured files from the private scratch copy, and removes it on close", async () => {
    scratch = await mkdtemp(join(tmpdir(), "ocipatch-lfs-"));
    const big = "x".repeat(300_000);
    const { fs, layers } = await fsOf([[...base, file("usr/share/big.txt", big)]], "gzip", {
      scratchDir: scratch,
    });
    expect((await fs.readFile("/usr/share/big.txt")).toString()).toBe(big);
    expect((await fs.readFile("/usr/share/big.txt")).length).toBe(big.length);
    expect(layers[0]!.opens).toBe(1);
    const s = fs.stats().layers[0]!;
    expect(s.reads).toBe(3);
    expect(s.readsFromScratch).toBe(2);
    expect(fs.stats().bytesDownloaded).toBe(layers[0]!.size);
    expect((await readdir(scratch)).length).toBe(1);
    await fs.close();
    expect(await readdir(scratch)).toEqual([]);
  });

  it("reads many uncaptured files with one pass over each layer (readFiles)", async () => {
    scratch = await mkdtemp(join(tmpdir(), "ocipatch-lfs-"));
    const libs = Array.from({ length: 20 }, (_, i) => file(`usr/lib/libx${i}.so.1`, `lib ${i}\n`));
    const { fs, layers } = await fsOf(
      [
        [...base, ...libs.slice(0, 10)],
        [dir("usr/"), dir("usr/lib/"), ...libs.slice(10), file("usr/lib/libx3.so.1", "newer 3\n")],
      ],
      "gzip",
      { scratchDir: scratch },
    );
    const paths = [
      ...libs.map((l) => `/${l.name}`),
      "/lib/libx5.so.1", // through the /lib -> /usr/lib link
      "/usr/lib/missing.so",
      "/usr/lib", // a directory: left out
      "/etc/hostname", // captured: no read at all
    ];
    const got = new Map<string, string>();
    await fs.readFiles(paths, (p, c) => {
      got.set(p, c?.toString() ?? "too large");
    });
    for (const p of paths.slice(0, 21)) expect(got.get(p), p).toBe((await fs.readFile(p)).toString());
    expect(got.get("/usr/lib/libx3.so.1")).toBe("newer 3\n");
    expect(got.has("/usr/lib/missing.so")).toBe(false);
    expect(got.has("/usr/lib")).toBe(false);
    expect(got.get("/etc/hostname")).toBe("base\n");
    // 1 index pass + 1 readFiles pass per layer, then one more per file checked above
    expect(layers.map((l) => l.opens)).toEqual([1, 1]);
    const before = fs.stats().layers.map((l) => l.reads);
    await fs.readFiles(paths, () => undefined);
    expect(fs.stats().layers.map((l) => l.reads)).toEqual(before.map((n) => n + 1));
    const small: string[] = [];
    await fs.readFiles(
      ["/usr/lib/libx1.so.1"],
      (p, c) => {
        small.push(`${p} ${c === undefined}`);
      },
      { maxBytes: 2 },
    );
    expect(small).toEqual(["/usr/lib/libx1.so.1 true"]);
    await fs.close();
  });

  it("re-reads uncaptured files from the source when no scratch copy is kept", async () => {
    const { fs, layers } = await fsOf([[...base, file("usr/share/doc.txt", "doc")]]);
    expect((await fs.readFile("/usr/share/doc.txt")).toString()).toBe("doc");
    expect(layers[0]!.opens).toBe(2);
    expect(fs.stats().bytesDownloaded).toBe(2 * layers[0]!.size);
  });

  it("captures only the configured patterns", async () => {
    const { fs, layers } = await fsOf([base], "gzip", {
      capture: { patterns: [] },
      extraCapturePatterns: ["etc/pass*"],
    });
    await fs.readFile("/etc/passwd");
    expect(layers[0]!.opens).toBe(1);
    await fs.readFile("/etc/hostname");
    expect(layers[0]!.opens).toBe(2);
  });

  it("fails with DIGEST_MISMATCH when the uncompressed content does not match the diffID", async () => {
    const raw = await buildTar(base);
    const layer = MemoryLayer.fromTar(raw, "gzip", sha256("something else"));
    const fs = new LayeredFs([layer], "test image");
    expect(await code(fs.readFile("/etc/passwd"))).toBe("DIGEST_MISMATCH");
  });
});

describe("LayeredFs hostile layers", () => {
  const cases: Array<[string, EntrySpec[], RegExp]> = [
    ["absolute path", [file("/etc/passwd")], /absolute path/],
    ["parent reference", [file("../../etc/passwd")], /path traversal/],
    ["hidden parent reference", [file("a/b/../../../x")], /path traversal/],
    ["device outside /dev", [{ name: "etc/mem", type: "character-device" }], /char-device outside \/dev/],
    ["block device outside /dev", [{ name: "tmp/sda", type: "block-device" }], /block-device outside/],
    ["hardlink escaping", [file("a"), hard("b", "../../etc/shadow")], /outside the layer root/],
    ["absolute hardlink", [hard("b", "/etc/shadow")], /outside the layer root/],
    ["whiteout of ..", [file("etc/.wh..."), file("x")], /invalid name/],
  ];
  it.each(cases)("rejects %s", async (_name, entries, msg) => {
    const { fs, layers } = await fsOf([entries]);
    const err = await fs.readFile("/x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("HOSTILE_LAYER");
    expect((err as OcipatchError).message).toMatch(msg);
    expect((err as OcipatchError).message).toContain(layers[0]!.digest);
    expect((err as OcipatchError).message.includes("\n")).toBe(false);
  });

  it("accepts device nodes under /dev", async () => {
    const { fs } = await fsOf([[dir("dev/"), { name: "dev/null", type: "character-device" }]]);
    expect((await fs.lstat("/dev/null"))?.type).toBe("char-device");
  });

  it("rejects layers with too many entries", async () => {
    const entries = Array.from({ length: 50 }, (_, i) => file(`f${i}`, ""));
    const { fs } = await fsOf([entries], "gzip", { limits: { maxEntriesPerLayer: 20 } });
    await expect(fs.readFile("/f1")).rejects.toThrow(/more than 20 entries/);
  });

  it("rejects over-long names", async () => {
    const { fs } = await fsOf([[file(`${"d/".repeat(100)}f`)]], "gzip", { limits: { maxPathLength: 100 } });
    await expect(fs.exists("/x")).rejects.toThrow(/name longer than 100 bytes/);
  });

  it("stops a decompression bomb early", async () => {
    // 64 MiB of zeros in one file compresses to ~64 KiB of gzip.
    const raw = await buildTar([file("zeros", Buffer.alloc(64 * 1024 * 1024) as unknown as string)]);
    const blob = gzipSync(raw);
    expect(blob.length).toBeLessThan(200 * 1024);
    const layer = MemoryLayer.fromTar(raw, "gzip");
    const fs = new LayeredFs([layer], "test image", { limits: { maxLayerBytes: 8 * 1024 * 1024 } });
    const err = await fs.readFile("/zeros").catch((e: unknown) => e);
    expect((err as OcipatchError).code).toBe("HOSTILE_LAYER");
    expect((err as OcipatchError).message).toMatch(/decompression bomb/);
    expect(fs.stats().bytesDownloaded).toBeLessThan(blob.length);
  });

  it("reports a truncated or corrupt layer as an error, not a crash", async () => {
    const raw = await buildTar(base);
    const good = gzipSync(raw);
    const layer = MemoryLayer.fromTar(raw, "gzip");
    const cut = Object.assign(Object.create(Object.getPrototypeOf(layer)), layer, {
      blob: good.subarray(0, good.length >> 1),
      size: good.length >> 1,
      digest: sha256(good.subarray(0, good.length >> 1)),
    }) as MemoryLayer;
    Object.assign(cut, { descriptor: { ...layer.descriptor, size: cut.size, digest: cut.digest } });
    const fs = new LayeredFs([cut], "test image");
    const err = await fs.readFile("/etc/passwd").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
  });
});
