/**
 * Fleet shared layer reads (issue 13 §3): three images sharing nginx-bullseye's two base layers,
 * each with its own top layer, patched at the same time with one SharedLayers. Each distinct layer
 * is read once for the whole run (counted by SharedLayers' reads, per diffID), and every result is
 * the same as when each image is patched on its own.
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patchImage } from "../../src/patch/patch-image.js";
import { SharedLayers } from "../../src/rootfs/index.js";
import { openDatabaseForScan, type VulnDatabase } from "../../src/vulndb/index.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { imageWithFileLayers } from "../harness/hostile-image.js";
import { ensureImage } from "../harness/images.js";
import { OCIPATCH_CACHE, trackerDb } from "../harness/patch-support.js";

const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

describe("fleet: each distinct layer read once", () => {
  const sources: string[] = [];
  let dir: string;
  let db: VulnDatabase;
  beforeAll(async () => {
    const base = await ensureImage("nginx-bullseye");
    dir = makeTempDir("fleet-layers");
    work.push(dir);
    for (let i = 0; i < 3; i++)
      sources.push(
        await imageWithFileLayers(
          base,
          join(dir, `src-${i}`),
          [{ name: `srv/app-${i}/data`, bytes: 16 * 1024, fill: "random" }],
          "1.0",
        ),
      );
    db = (await openDatabaseForScan({ dbDir: await trackerDb(), offline: true })).db;
  }, 900_000);
  afterAll(() => db?.close());

  const patchAll = async (name: string, shared: SharedLayers | undefined) =>
    Promise.all(
      sources.map(async (source, i) => {
        const workDir = mkdtempSync(join(dir, `work-${name}-${i}-`));
        try {
          const r = await patchImage({
            source,
            destination: `oci:${join(dir, `out-${name}-${i}`)}:p`,
            mode: "all",
            db,
            repositories: { cacheDir: join(OCIPATCH_CACHE, "apt") },
            packageCacheDir: join(OCIPATCH_CACHE, "debs"),
            workDir,
            now: new Date("2026-01-01T00:00:00Z"),
            ...(shared ? { sharedLayers: shared } : {}),
          });
          const p = r.platforms[0]!;
          const { stdout } = await run("skopeo", ["inspect", `oci:${join(dir, `out-${name}-${i}`)}:p`]);
          return {
            status: p.status,
            before: p.before.findings,
            after: p.after?.findings,
            plan: p.plan.updates,
            layer: p.built?.layer.digest,
            written: (JSON.parse(stdout) as { Layers: string[] }).Layers,
          };
        } finally {
          await rm(workDir, { recursive: true, force: true });
        }
      }),
    );

  it("reads each shared base layer once for the run, with the results of unshared runs", async () => {
    const alone = await patchAll("alone", undefined);
    const shared = new SharedLayers(mkdtempSync(join(dir, "blobs-")));
    const together = await patchAll("shared", shared);

    for (const r of alone) expect(r.status).toBe("patched");
    expect(together).toEqual(alone);

    const loads = shared.stats().loads;
    // 2 base layers + 3 own top layers, each read exactly once
    expect(loads.size).toBe(5);
    for (const [diffId, n] of loads) expect(n, `reads of ${diffId}`).toBe(1);
    // the two base layers were given to the two other images: 4 shared uses
    expect(shared.stats().hits).toBe(4);
  }, 1_800_000);
});
