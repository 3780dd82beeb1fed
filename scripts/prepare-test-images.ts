/**
 * Builds (or finds in the cache) every test image, so CI can build them once up front and the log
 * shows per-image build times.
 *
 *   npm run test:images [-- NAME...] [--jobs N] [--prune] [--list]
 *
 * --jobs N  build up to N images at once (dependencies still come first; default 1)
 * --prune   delete cached images that no current recipe produces
 * --list    print the catalogue and exit
 * Cache: $OCIPATCH_TEST_CACHE (default /var/cache/ocipatch-test).
 */

import { cacheRoot, safeRemove } from "../test/harness/fs.js";
import {
  CATALOGUE,
  ensureImage,
  IMAGE_NAMES,
  type ImageName,
  staleCacheEntries,
  type TestImage,
} from "../test/harness/images.js";

const args = process.argv.slice(2);
const names: ImageName[] = [];
let jobs = 1;
let prune = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "--jobs") jobs = Math.max(1, Number(args[++i]));
  else if (a === "--prune") prune = true;
  else if (a === "--list") {
    for (const n of IMAGE_NAMES) console.log(`${n.padEnd(22)} ${CATALOGUE[n].description}`);
    process.exit(0);
  } else if ((IMAGE_NAMES as string[]).includes(a)) names.push(a as ImageName);
  else {
    console.error(`unknown image or option: ${a} (images: ${IMAGE_NAMES.join(", ")})`);
    process.exit(2);
  }
}
const wanted = names.length ? names : IMAGE_NAMES;

if (prune) {
  for (const dir of await staleCacheEntries()) {
    console.error(`pruning stale cache entry ${dir}`);
    await safeRemove(dir);
  }
}

const started = Date.now();
const results = new Map<ImageName, { image?: TestImage; error?: string; seconds: number; cached: boolean }>();
// longest chain first (the multi-arch image waits for its base, then emulates arm64), so that
// --jobs 2 overlaps it with everything else
const queue = [...wanted].sort(
  (a, b) => Number(CATALOGUE[b].kind === "multiarch") - Number(CATALOGUE[a].kind === "multiarch"),
);
async function worker(): Promise<void> {
  for (let n = queue.shift(); n; n = queue.shift()) {
    const t = Date.now();
    try {
      const image = await ensureImage(n);
      const seconds = (Date.now() - t) / 1000;
      results.set(n, { image, seconds, cached: Date.parse(image.builtAt) < t });
    } catch (e) {
      results.set(n, { error: (e as Error).message, seconds: (Date.now() - t) / 1000, cached: false });
    }
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, wanted.length) }, worker));
const total = (Date.now() - started) / 1000;

console.log(`\ntest images in ${cacheRoot()}:`);
console.log(
  `${"image".padEnd(22)} ${"status".padEnd(8)} ${"build s".padStart(8)} ${"layers".padStart(6)} ${"pkgs".padStart(5)}  platforms`,
);
let failed = 0;
for (const n of wanted) {
  const r = results.get(n)!;
  if (r.error) {
    failed++;
    console.log(
      `${n.padEnd(22)} FAILED   ${r.seconds.toFixed(1).padStart(8)}\n  ${r.error.split("\n").join("\n  ")}`,
    );
    continue;
  }
  const i = r.image!;
  console.log(
    `${n.padEnd(22)} ${(r.cached ? "cached" : "built").padEnd(8)} ${i.buildSeconds.toFixed(1).padStart(8)} ${String(i.layers).padStart(6)} ${String(Object.keys(i.packagesBefore).length).padStart(5)}  ${i.platforms.join(" ")}`,
  );
}
console.log(
  `total wall time this run: ${total.toFixed(1)}s (build s = the image's own cold build time, recorded in the cache)`,
);
process.exit(failed ? 1 : 0);
