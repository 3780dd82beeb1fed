import {
  chmodSync,
  chownSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LayerIndexCache } from "../index-cache.js";
import { LayerIndex } from "../layer-index.js";
import { LayeredFs } from "../layered-fs.js";
import type { FileSummarizer, LayeredFsOptions } from "../options.js";
import { SharedLayers } from "../shared-layers.js";
import { type EntrySpec, MemoryLayer } from "./synthetic.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "index-cache-"));
  dirs.push(d);
  return d;
}

const dir = (name: string): EntrySpec => ({ name, type: "directory" });
const file = (name: string, content = `content of ${name}\n`): EntrySpec => ({ name, content });

const base: EntrySpec[] = [
  dir("./"),
  dir("etc/"),
  file("etc/os-release", 'ID=debian\nVERSION_ID="12"\n'),
  file("etc/hostname", "base\n"),
  dir("usr/"),
  dir("usr/lib/"),
  file("usr/lib/libx.so.1", "ELF libx"),
  { name: "usr/lib/libx.so", type: "symlink", linkname: "libx.so.1" },
  dir("usr/share/"),
  file("usr/share/doc.txt", "a document that is not captured\n"),
  { name: "usr/share/doc-link.txt", type: "link", linkname: "usr/share/doc.txt" },
  dir("opt/"),
  file("opt/old.txt"),
  { name: "dev/null", type: "character-device" },
  { name: "weird", type: "fifo" },
];
const top: EntrySpec[] = [
  dir("etc/"),
  file("etc/hostname", "top\n"),
  file("etc/.wh.os-release"),
  dir("opt/"),
  file("opt/.wh..wh..opq"),
  file("opt/new.txt"),
  { name: "usr/share/top-link.txt", type: "link", linkname: "usr/share/doc.txt" },
];

/** A summarizer of the libraries (as dpkg's ldconfig reading is one). */
const sizes: FileSummarizer<{ bytes: number }> = {
  id: "sizes",
  patterns: ["usr/lib/**"],
  maxFileBytes: 1024,
  summarize: (c) => ({ bytes: c.length }),
};

/** Fresh layers (blobs opened 0 times) with the same content, so the same diffIDs. */
const layersOf = () => Promise.all([MemoryLayer.of(base), MemoryLayer.of(top)]);

async function answers(fs: LayeredFs) {
  const paths = [
    "/etc/hostname",
    "/etc/os-release",
    "/usr/lib/libx.so",
    "/usr/share/doc-link.txt",
    "/usr/share/top-link.txt",
    "/opt/old.txt",
    "/opt/new.txt",
    "/dev/null",
    "/weird",
  ];
  const out: Record<string, unknown> = {};
  for (const p of paths) out[p] = await fs.lstat(p);
  out["readdir /"] = await fs.readdir("/");
  out["readdir /opt"] = await fs.readdir("/opt");
  out["hostname"] = (await fs.readFile("/etc/hostname")).toString();
  out["summary"] = await fs.summary("/usr/lib/libx.so.1", sizes);
  return out;
}

const opts = (cache: LayerIndexCache, extra: LayeredFsOptions = {}): LayeredFsOptions => ({
  indexCache: cache,
  fileSummaries: [sizes],
  ...extra,
});

/** A cache that indexed the two layers through one view: what that view answered, the entries' names. */
async function filledCache() {
  const cache = new LayerIndexCache(await tempDir(), "build-1");
  const fs1 = new LayeredFs(await layersOf(), "image", opts(cache));
  const want = await answers(fs1);
  await fs1.close();
  return { cache, want, entries: readdirSync(cache.dir).filter((n) => n.endsWith(".idx")) };
}

describe("LayerIndexCache", () => {
  it("a second view of the same layers reads none of them and answers the same", async () => {
    const cache = new LayerIndexCache(await tempDir(), "build-1");
    const first = await layersOf();
    const fs1 = new LayeredFs(first, "image one", opts(cache));
    const want = await answers(fs1);
    await fs1.close(); // waits for the entries to be written
    expect(first.map((l) => l.opens)).toEqual([1, 1]);
    const stored = readdirSync(cache.dir).filter((n) => n.endsWith(".idx"));
    expect(stored).toHaveLength(2);
    // owner-only: the entries hold copies of the image's small files
    expect(statSync(cache.dir).mode & 0o777).toBe(0o700);
    for (const n of stored) expect(statSync(join(cache.dir, n)).mode & 0o777).toBe(0o600);

    const again = await layersOf();
    const fs2 = new LayeredFs(again, "image two", opts(cache));
    expect(await answers(fs2)).toEqual(want);
    expect(again.map((l) => l.opens)).toEqual([0, 0]);
    expect(fs2.stats()).toMatchObject({ layersFromIndexCache: 2, bytesDownloaded: 0, layers: [] });
    // a file that is not captured is read from the layer's blob (verified), as without the cache
    expect((await fs2.readFile("/usr/share/top-link.txt")).toString()).toBe(
      "a document that is not captured\n",
    );
    expect(again.map((l) => l.opens)).toEqual([1, 0]);
    await fs2.close();
  });

  it("with a fleet's shared layers: one copy of a cached index for every view, files read from the source", async () => {
    const cache = new LayerIndexCache(await tempDir(), "build-1");
    const fs1 = new LayeredFs(await layersOf(), "image one", opts(cache));
    const want = await answers(fs1);
    await fs1.close();

    const shared = new SharedLayers(await tempDir());
    const [a, b] = [await layersOf(), await layersOf()];
    const fsA = new LayeredFs(a, "image A", opts(cache, { sharedLayers: shared }));
    const fsB = new LayeredFs(b, "image B", opts(cache, { sharedLayers: shared }));
    expect(await answers(fsA)).toEqual(want);
    expect(await answers(fsB)).toEqual(want);
    expect([...a, ...b].map((l) => l.opens)).toEqual([0, 0, 0, 0]);
    // each layer taken from the cache once for the run, and given to both views
    expect([...shared.stats().loads.values()]).toEqual([1, 1]);
    expect(shared.stats().hits).toBe(2);
    // no blob copy was kept for a cached index: a file that is not captured comes from the source
    expect((await fsB.readFile("/usr/share/doc.txt")).toString()).toBe("a document that is not captured\n");
    expect(b.map((l) => l.opens)).toEqual([1, 0]);
    await fsA.close();
    await fsB.close();
  });

  it("keeps a layer's warnings, named by the view that reads them", async () => {
    const cache = new LayerIndexCache(await tempDir(), "build-1");
    const idx = new LayerIndex(3, "layer A (4/4) of image one");
    idx.warnings.push('layer A (4/4) of image one: entry "x" of unsupported type gnu-sparse ignored');
    idx.entryCount = 1;
    await cache.put("sha256:0a", "v", idx);
    const got = await cache.get("sha256:0a", "v", 0, "layer A (1/2) of image two");
    expect(got?.index).toBe(0);
    expect(got?.warnings).toEqual([
      'layer A (1/2) of image two: entry "x" of unsupported type gnu-sparse ignored',
    ]);
    expect(got?.entryCount).toBe(1);
    expect(await cache.get("sha256:0a", "w", 0, "x")).toBeUndefined();
    expect(await cache.get("sha256:0b", "v", 0, "x")).toBeUndefined();
  });

  it("is a miss for other capture settings and another build", async () => {
    const d = await tempDir();
    const fs1 = new LayeredFs(await layersOf(), "image", opts(new LayerIndexCache(d, "build-1")));
    await answers(fs1);
    await fs1.close();

    const other = await layersOf();
    const fs2 = new LayeredFs(
      other,
      "image",
      opts(new LayerIndexCache(d, "build-1"), { extraCapturePatterns: ["usr/share/**"] }),
    );
    await fs2.readFile("/usr/share/doc.txt");
    expect(other.map((l) => l.opens)).toEqual([1, 1]);
    await fs2.close();

    const next = await layersOf();
    const fs3 = new LayeredFs(next, "image", opts(new LayerIndexCache(d, "build-2")));
    await answers(fs3);
    expect(next.map((l) => l.opens)).toEqual([1, 1]);
    await fs3.close();
  });

  it("a damaged entry is a miss: removed, the layer read and stored again", async () => {
    const { cache, want, entries } = await filledCache();
    for (const [i, name] of entries.entries()) {
      const f = join(cache.dir, name);
      const bytes = readFileSync(f);
      // one flipped byte in the payload, one entry cut short
      if (i === 0) bytes[bytes.length - 5]! ^= 0x40;
      writeFileSync(f, i === 0 ? bytes : bytes.subarray(0, 20));
    }
    const layers = await layersOf();
    const fs2 = new LayeredFs(layers, "image", opts(cache));
    expect(await answers(fs2)).toEqual(want);
    expect(layers.map((l) => l.opens)).toEqual([1, 1]);
    await fs2.close();
    // stored again, whole
    const healed = await layersOf();
    const fs3 = new LayeredFs(healed, "image", opts(new LayerIndexCache(cache.dir, "build-1")));
    expect(await answers(fs3)).toEqual(want);
    expect(healed.map((l) => l.opens)).toEqual([0, 0]);
    await fs3.close();
  });

  it("an entry others may write, or another user's, is a miss: the layer is read and the entry written again", async () => {
    const { cache, want, entries } = await filledCache();
    expect(entries).toHaveLength(2);
    const [first, second] = entries.map((n) => join(cache.dir, n));
    chmodSync(first!, 0o644);
    const other = (process.getuid?.() ?? 0) === 0 ? 65534 : undefined;
    if (other !== undefined) chownSync(second!, other, other);
    else chmodSync(second!, 0o620);
    const layers = await layersOf();
    const fs2 = new LayeredFs(layers, "image", opts(new LayerIndexCache(cache.dir, "build-1")));
    expect(await answers(fs2)).toEqual(want);
    expect(layers.map((l) => l.opens)).toEqual([1, 1]);
    await fs2.close();
    // written again, this user's alone: taken
    for (const f of [first!, second!]) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      expect(statSync(f).uid).toBe(process.getuid?.());
    }
    const again = await layersOf();
    const fs3 = new LayeredFs(again, "image", opts(new LayerIndexCache(cache.dir, "build-1")));
    expect(await answers(fs3)).toEqual(want);
    expect(again.map((l) => l.opens)).toEqual([0, 0]);
    await fs3.close();
  });

  it("past its size limit, removes the entries used least recently", async () => {
    const d = await tempDir();
    const fill = async (cache: LayerIndexCache, layers: MemoryLayer[]) => {
      const fs = new LayeredFs(layers, "image", opts(cache));
      await fs.indexAllLayers();
      await fs.close();
    };
    await fill(new LayerIndexCache(d, "build-1"), await layersOf());
    const sizes = readdirSync(d).map((n) => statSync(join(d, n)).size);
    expect(sizes).toHaveLength(2);
    // both used an hour ago, the larger one a second earlier; a third layer's (smaller) entry makes
    // the total pass a limit that held the two: the one used least recently goes
    const [older, newer] = readdirSync(d).sort(
      (a, b) => statSync(join(d, b)).size - statSync(join(d, a)).size,
    );
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(d, older!), hourAgo, new Date(hourAgo.getTime() - 1000));
    utimesSync(join(d, newer!), hourAgo, hourAgo);
    const limit = sizes[0]! + sizes[1]!;
    await fill(new LayerIndexCache(d, "build-1", limit), [await MemoryLayer.of([file("extra.txt")])]);
    const left = readdirSync(d);
    expect(left).toHaveLength(2);
    expect(left).toContain(newer);
    expect(left).not.toContain(older);
  });
});
