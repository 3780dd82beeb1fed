/**
 * Reading a gzip layer the way a scan does (`uncompressLayer` then `scanTar`: decompress, check
 * the diffID, parse the tar, skip every entry) against the floor named here: zlib's inflate of
 * the same blob, read the same way (checked against its digest), and the diffID's SHA-256 alone,
 * in the same run.
 * The chain costs what it adds to the inflate: its work on this thread, and whatever makes the
 * inflate wait for it. The largest layer of a harness test image; medians of N, alternating.
 *
 *   OCIPATCH_SHARED=../shared node scripts/run-ts.mjs bench/layer-read.ts [--image debian-bookworm] [--runs 7]
 */
import { createHash } from "node:crypto";
import { createGunzip } from "node:zlib";
import type { Layer } from "../src/image/image.js";
import { uncompressLayer } from "../src/image/source.js";
import { scanTar, skipEntry } from "../src/rootfs/tar-scan.js";
import { openImage } from "../src/transport/index.js";
import { ensureImage, type ImageName } from "../test/harness/images.js";
import { median, runsArg } from "./args.js";

const runs = runsArg(7);
const i = process.argv.indexOf("--image");
const name = (i === -1 ? "debian-bookworm" : process.argv[i + 1]) as ImageName;

const img = await ensureImage(name);
const image = await openImage(img.ociRef);
if (image.kind !== "image") throw new Error(`${name}: an index; the bench reads one image's layer`);
const layers = await image.layers();
const layer = layers.reduce((a: Layer, b: Layer) => (b.size > a.size ? b : a));
if (layer.compression !== "gzip") throw new Error(`${name}: its largest layer is not gzip`);

/** The verified blob, zlib's inflate and the diffID's hash, nothing else. */
async function floor(): Promise<number> {
  const inner = createHash("sha256");
  let n = 0;
  for await (const c of (await layer.compressed()).pipe(createGunzip({ chunkSize: 256 * 1024 }))) {
    inner.update(c as Buffer);
    n += (c as Buffer).length;
  }
  if (`sha256:${inner.digest("hex")}` !== layer.diffId) throw new Error("floor: not the layer's diffID");
  return n;
}

/** What a scan's layer read does, every entry skipped. */
async function chain(): Promise<number> {
  const tar = uncompressLayer(await layer.compressed(), "gzip", layer.diffId, "bench layer");
  let entries = 0;
  await scanTar(tar, "bench layer", { maxEntries: 1e7, maxBytes: 1e12 }, async (e) => {
    entries++;
    await skipEntry(e);
    return false;
  });
  return entries;
}

const times = { floor: [] as number[], chain: [] as number[] };
let uncompressed = 0;
let entries = 0;
for (let r = 0; r < runs; r++) {
  let t0 = performance.now();
  uncompressed = await floor();
  times.floor.push(performance.now() - t0);
  t0 = performance.now();
  entries = await chain();
  times.chain.push(performance.now() - t0);
}
const f = median(times.floor);
const c = median(times.chain);
const ms = (xs: number[]) => xs.map((t) => t.toFixed(0)).join(" / ");
console.log(
  `${name} layer ${layer.digest.slice(7, 19)}: ${layer.size} bytes gzip, ${uncompressed} uncompressed, ${entries} entries`,
);
console.log("| inflate + diffID hash (floor) | layer read (chain) | ratio |");
console.log(`| ${f.toFixed(0)} ms | ${c.toFixed(0)} ms | ${(c / f).toFixed(2)}× |`);
console.log(`runs: floor ${ms(times.floor)}; chain ${ms(times.chain)}`);
