#!/usr/bin/env node
/**
 * Reading a gzip layer the way a scan does (`uncompressLayer` then `scanTar`: decompress, check
 * the diffID, parse the tar, skip every entry) against the floor named here: zlib's inflate of
 * the same blob alone with both SHA-256 hashes (compressed and uncompressed), in the same run.
 * The chain costs what it adds to the inflate: its work on this thread, and whatever makes the
 * inflate wait for it.
 *
 *   npm run build && node bench/layer-read.mjs [--image debian-bookworm] [--runs 5]
 *
 * Uses the largest layer of the harness's test image (`npm run test:images`). Prints the medians.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
if (!existsSync(join(repo, "dist/image/source.js"))) throw new Error("run `npm run build` first");
const { uncompressLayer } = await import(join(repo, "dist/image/source.js"));
const { scanTar, skipEntry } = await import(join(repo, "dist/rootfs/tar-scan.js"));

const imageName = opt("image", "debian-bookworm");
const runs = Number(opt("runs", "5"));
const dir = join(process.env.OCIPATCH_TEST_CACHE || "/var/cache/ocipatch-test", "images");
const hit = existsSync(dir)
  ? readdirSync(dir).find((d) => new RegExp(`^${imageName}-[0-9a-f]{16}$`).test(d))
  : undefined;
if (!hit) throw new Error(`no ${imageName} test image: run npm run test:images first`);
const layout = join(dir, hit, "layout");
const blob = (d) => join(layout, "blobs/sha256", d.slice("sha256:".length));
const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
const i = manifest.layers.reduce((best, l, k) => (l.size > manifest.layers[best].size ? k : best), 0);
const layer = manifest.layers[i];
if (!/gzip/.test(layer.mediaType)) throw new Error(`${imageName}: the largest layer is not gzip`);
const file = blob(layer.digest);
const diffId = config.rootfs.diff_ids[i];

async function floor() {
  const outer = createHash("sha256");
  const inner = createHash("sha256");
  const src = createReadStream(file);
  src.on("data", (c) => outer.update(c));
  let n = 0;
  for await (const c of src.pipe(createGunzip({ chunkSize: 256 * 1024 }))) {
    inner.update(c);
    n += c.length;
  }
  outer.digest();
  if (`sha256:${inner.digest("hex")}` !== diffId) throw new Error("floor: wrong diffID");
  return n;
}

async function chain() {
  const tar = uncompressLayer(createReadStream(file), "gzip", diffId, "bench layer");
  let entries = 0;
  await scanTar(tar, "bench layer", { maxEntries: 1e7, maxBytes: 1e12 }, async (e) => {
    entries++;
    await skipEntry(e);
    return false;
  });
  return entries;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const times = { floor: [], chain: [] };
let uncompressed = 0;
let entries = 0;
for (let r = 0; r < runs; r++) {
  for (const [name, f] of [
    ["floor", floor],
    ["chain", chain],
  ]) {
    const t0 = performance.now();
    const v = await f();
    times[name].push(performance.now() - t0);
    if (name === "floor") uncompressed = v;
    else entries = v;
  }
}
const f = median(times.floor);
const c = median(times.chain);
console.log(
  `${imageName} layer ${layer.digest.slice(7, 19)}: ${statSync(file).size} bytes gzip, ${uncompressed} uncompressed, ${entries} entries`,
);
console.log(`| inflate + hashes (floor) | layer read (chain) | ratio |`);
console.log(`| ${f.toFixed(0)} ms | ${c.toFixed(0)} ms | ${(c / f).toFixed(2)}× |`);
console.log(
  `runs: floor ${times.floor.map((t) => t.toFixed(0)).join(" / ")}; chain ${times.chain.map((t) => t.toFixed(0)).join(" / ")}`,
);
