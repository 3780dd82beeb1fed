/**
 * File summaries made while a layer is indexed (LayeredFs `fileSummaries` / `summary`): which
 * files get one, and that `summary` answers for the path as `readFile` would (upper layers,
 * whiteouts, symlinked parents, hardlinks), without reading a layer again. Real tar layers built
 * in memory (synthetic.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import { LayeredFs } from "../layered-fs.js";
import type { FileSummarizer, LayeredFsOptions } from "../options.js";
import { SharedLayers } from "../shared-layers.js";
import { type EntrySpec, MemoryLayer } from "./synthetic.js";

const dir = (name: string): EntrySpec => ({ name, type: "directory" });
const file = (name: string, content: string): EntrySpec => ({ name, content });
const link = (name: string, linkname: string): EntrySpec => ({ name, type: "symlink", linkname });
const hard = (name: string, linkname: string): EntrySpec => ({ name, type: "link", linkname });

const work = mkdtempSync(join(tmpdir(), "ocipatch-summaries-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What it saw: the content's length and first line (a copy, never the content itself). */
interface Seen {
  readonly bytes: number;
  readonly first: string;
}

/** Library-named files directly in usr/lib, at most 64 bytes; counts its calls. */
function summarizer(maxFileBytes = 64): FileSummarizer<Seen> & { calls: string[] } {
  const calls: string[] = [];
  return {
    id: "test/first-line/1",
    patterns: ["usr/lib/*"],
    name: (n) => n.startsWith("lib") && n.includes(".so"),
    maxFileBytes,
    calls,
    summarize(content) {
      const text = content.toString("utf8");
      calls.push(text);
      return { bytes: content.length, first: text.split("\n")[0]! };
    },
  };
}

async function fsOf(layers: EntrySpec[][], opts: LayeredFsOptions) {
  const ls = await Promise.all(layers.map((l) => MemoryLayer.of(l)));
  return { fs: new LayeredFs(ls, "test image", { scratchDir: work, ...opts }), layers: ls };
}

const base: EntrySpec[] = [
  dir("./"),
  dir("usr/"),
  dir("usr/lib/"),
  file("usr/lib/libc.so.6", "libc\nbody"),
  file("usr/lib/libm.so.6", "libm\n"),
  file("usr/lib/README", "not a library name\n"),
  dir("usr/lib/sub/"),
  file("usr/lib/sub/libdeep.so.1", "not directly in usr/lib\n"),
  file("usr/lib/libbig.so.1", "x".repeat(65)),
  file("usr/lib/libedge.so.1", "y".repeat(64)),
  link("lib", "usr/lib"),
  dir("opt/"),
  file("opt/libother.so.1", "outside the patterns\n"),
];

describe("LayeredFs file summaries", () => {
  it("summarizes the files the patterns and the name predicate select, up to maxFileBytes", async () => {
    const s = summarizer();
    const { fs, layers } = await fsOf([base], { fileSummaries: [s] });
    expect(await fs.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await fs.summary("/usr/lib/libm.so.6", s)).toEqual({ bytes: 5, first: "libm" });
    expect(await fs.summary("/usr/lib/libedge.so.1", s)).toEqual({ bytes: 64, first: "y".repeat(64) });
    // a name the predicate refuses, a deeper directory, a path outside the patterns, too large
    for (const p of [
      "/usr/lib/README",
      "/usr/lib/sub/libdeep.so.1",
      "/opt/libother.so.1",
      "/usr/lib/libbig.so.1",
    ])
      expect(await fs.summary(p, s), p).toBeUndefined();
    expect(s.calls.sort()).toEqual(["libc\nbody", "libm\n", "y".repeat(64)]);
    // absent: no such file, a directory, a path under a missing directory
    for (const p of ["/usr/lib/libnone.so.1", "/usr/lib", "/nowhere/libc.so.6"])
      expect(await fs.summary(p, s), p).toBeUndefined();
    // a summarizer the view was not given has no summaries, even with the same patterns
    expect(await fs.summary("/usr/lib/libc.so.6", { ...summarizer(), id: "test/other/1" })).toBeUndefined();
    // the layer was read once; the content was not kept (no capture pattern): reading it reads again
    expect(layers[0]!.opens).toBe(1);
    expect(fs.stats().layers[0]).toMatchObject({ reads: 1, capturedBytes: 0 });
    expect((await fs.readFile("/usr/lib/libc.so.6")).toString()).toBe("libc\nbody");
    expect(fs.stats().layers[0]!.reads).toBe(2);
    await fs.close();
  });

  it("keeps the content of a file that is captured as well, and summarizes it once", async () => {
    const s = summarizer();
    const { fs } = await fsOf([base], { fileSummaries: [s], extraCapturePatterns: ["usr/lib/libc.so.6"] });
    expect(await fs.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect((await fs.readFile("/usr/lib/libc.so.6")).toString()).toBe("libc\nbody");
    expect(fs.stats().layers[0]).toMatchObject({ reads: 1, capturedBytes: 9 });
    expect(s.calls.filter((c) => c.startsWith("libc"))).toHaveLength(1);
    await fs.close();
  });

  it("answers through symlinked parents and final symlinks, as readFile does", async () => {
    const s = summarizer();
    const { fs } = await fsOf([[...base, link("usr/lib/libc.so", "libc.so.6")]], { fileSummaries: [s] });
    expect(await fs.summary("/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await fs.summary("/lib/../lib/libm.so.6", s)).toEqual({ bytes: 5, first: "libm" });
    expect(await fs.summary("/lib/libc.so", s)).toEqual({ bytes: 9, first: "libc" });
    await fs.close();
  });

  it("follows upper layers: a whiteout hides the summary, an override has its own or none", async () => {
    const s = summarizer();
    const { fs } = await fsOf(
      [
        base,
        [
          dir("usr/"),
          dir("usr/lib/"),
          file("usr/lib/.wh.libm.so.6", ""),
          file("usr/lib/libc.so.6", "libc v2\n"),
          // the lower edge file was summarized; its replacement is too large: no summary at all
          file("usr/lib/libedge.so.1", "z".repeat(100)),
        ],
      ],
      { fileSummaries: [s] },
    );
    expect(await fs.summary("/usr/lib/libm.so.6", s)).toBeUndefined();
    expect(await fs.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 8, first: "libc v2" });
    expect(await fs.summary("/usr/lib/libedge.so.1", s)).toBeUndefined();
    expect((await fs.readFile("/usr/lib/libedge.so.1")).toString()).toBe("z".repeat(100));
    await fs.close();
  });

  it("an opaque directory above hides the summaries below it", async () => {
    const s = summarizer();
    const { fs } = await fsOf(
      [
        base,
        [dir("usr/"), dir("usr/lib/"), file("usr/lib/.wh..wh..opq", ""), file("usr/lib/libz.so.1", "z\n")],
      ],
      { fileSummaries: [s] },
    );
    expect(await fs.summary("/usr/lib/libc.so.6", s)).toBeUndefined();
    expect(await fs.summary("/usr/lib/libz.so.1", s)).toEqual({ bytes: 2, first: "z" });
    await fs.close();
  });

  it("resolves hardlinks to the summary of their target, in the same and in a lower layer", async () => {
    const s = summarizer();
    const { fs } = await fsOf(
      [
        [
          ...base,
          hard("usr/lib/libc-2.31.so", "usr/lib/libc.so.6"),
          hard("opt/libcopy.so.6", "usr/lib/libc.so.6"),
        ],
        [dir("usr/"), dir("usr/lib/"), hard("usr/lib/libm-2.31.so", "usr/lib/libm.so.6")],
      ],
      { fileSummaries: [s] },
    );
    expect(await fs.summary("/usr/lib/libc-2.31.so", s)).toEqual({ bytes: 9, first: "libc" });
    // the content's name matched: the summary goes with the content, whatever the link's name
    expect(await fs.summary("/opt/libcopy.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await fs.summary("/usr/lib/libm-2.31.so", s)).toEqual({ bytes: 5, first: "libm" });
    expect((await fs.readFile("/usr/lib/libm-2.31.so")).toString()).toBe("libm\n");
    await fs.close();
  });

  it("a summarizer that throws leaves no summary; two summarizers with one id are refused", async () => {
    const s = summarizer();
    const failing: FileSummarizer<string> = {
      id: "test/failing/1",
      patterns: ["usr/lib/*"],
      maxFileBytes: 1024,
      summarize(content) {
        if (content.toString().startsWith("libc")) throw new Error("cannot read it");
        return "ok";
      },
    };
    const { fs } = await fsOf([base], { fileSummaries: [s, failing] });
    expect(await fs.summary("/usr/lib/libc.so.6", failing)).toBeUndefined();
    expect(await fs.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await fs.summary("/usr/lib/libm.so.6", failing)).toBe("ok");
    await fs.close();
    const layers = [await MemoryLayer.of(base)];
    let err: unknown;
    try {
      new LayeredFs(layers, "test image", { fileSummaries: [s, summarizer()] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("INTERNAL");
  });

  it("is part of the shared layer key: another summarizer set indexes the layer again", async () => {
    const shared = new SharedLayers(mkdtempSync(join(work, "shared-")));
    const layer = await MemoryLayer.of(base);
    const s = summarizer();
    const open = (opts: LayeredFsOptions) =>
      new LayeredFs([layer], "test image", { ...opts, sharedLayers: shared });
    const a = open({ fileSummaries: [s] });
    const b = open({ fileSummaries: [s] });
    const c = open({});
    const d = open({ fileSummaries: [summarizer(16)] });
    expect(await a.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await b.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await c.summary("/usr/lib/libc.so.6", s)).toBeUndefined();
    // the same id with another size limit: its own index, its own answers
    expect(await d.summary("/usr/lib/libc.so.6", s)).toEqual({ bytes: 9, first: "libc" });
    expect(await d.summary("/usr/lib/libedge.so.1", s)).toBeUndefined();
    expect(shared.stats().loads.get(layer.diffId)).toBe(3);
    expect(layer.opens).toBe(3);
    for (const v of [a, b, c, d]) await v.close();
  });
});
