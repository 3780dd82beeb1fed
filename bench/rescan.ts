/**
 * The re-scan stage of a patch (issue 13 §1): reading the patched image's inventory from its
 * layers (as before) against computing it from the inventory before and the records the patch
 * layer wrote (now), each followed by the same vulnerability scan. nginx-bullseye patched once
 * (`--all`, warm package cache) into an OCI layout; then both ways alternating, median of N.
 *
 *   OCIPATCH_SHARED=../shared node scripts/run-ts.mjs bench/rescan.ts [--runs 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { readInventory } from "../src/inventory/index.js";
import { inventoryAfterLayer } from "../src/patch/after-inventory.js";
import { patchImage } from "../src/patch/patch-image.js";
import { scanInventory } from "../src/scan/matcher.js";
import { openImage } from "../src/transport/index.js";
import { openDatabaseForScan } from "../src/vulndb/index.js";
import { ensureImage } from "../test/harness/images.js";
import { OCIPATCH_CACHE, trackerDb } from "../test/harness/patch-support.js";
import { median, runsArg } from "./args.js";

const runs = runsArg();

const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-rescan-"));
const { db } = await openDatabaseForScan({ dbDir: await trackerDb(), offline: true });
try {
  const img = await ensureImage("nginx-bullseye");
  const dest = `oci:${join(work, "out")}:p`;
  const r = await patchImage({
    source: img.ociRef,
    destination: dest,
    mode: "all",
    db,
    repositories: { cacheDir: join(OCIPATCH_CACHE, "apt") },
    packageCacheDir: join(OCIPATCH_CACHE, "debs"),
    workDir: mkdtempSync(join(work, "run-")),
  });
  const built = r.platforms[0]!.built!;
  const before = await readInventory(await openImage(img.ociRef));
  const target = {
    type: "image" as const,
    reference: dest,
    digest: r.written!.digest,
    platform: "linux/amd64",
  };
  const read: number[] = [];
  const computed: number[] = [];
  for (let k = 0; k < runs; k++) {
    let t0 = performance.now();
    const inv = await readInventory(await openImage(dest), { scratchDir: work });
    const a = scanInventory(inv, db, { target });
    read.push(performance.now() - t0);
    t0 = performance.now();
    const known = (await inventoryAfterLayer(before, built))!;
    const b = scanInventory(known, db, { target });
    computed.push(performance.now() - t0);
    if (a.summary.fixable !== b.summary.fixable) throw new Error("the two re-scans disagree");
    console.error(
      `run ${k + 1}/${runs} (load ${loadavg()[0]!.toFixed(1)}): read ${read[k]!.toFixed(0)} ms, computed ${computed[k]!.toFixed(0)} ms`,
    );
  }
  console.log(
    `re-scan of the patched nginx-bullseye, median of ${runs}: reading the layers ${median(read).toFixed(0)} ms, computed ${median(computed).toFixed(1)} ms`,
  );
} finally {
  db.close();
  rmSync(work, { recursive: true, force: true });
}
