/**
 * The re-scan of a patched image reads no layer: its packages are the inventory the patch layer
 * was built against plus the records the layer wrote (issue 13 §1). This test keeps that shortcut
 * honest: the computed inventory must equal a real read of the written image, record for record,
 * on a `status` image, on a distroless `status.d` image, and on an image whose layer writes its OS
 * identification files (ubuntu-noble's base-files).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dpkgRecord } from "../../src/backends/dpkg/db/record.js";
import type { InstalledPackage, Inventory } from "../../src/inventory/index.js";
import { readInventory } from "../../src/inventory/index.js";
import { OS_RELEASE_FILES } from "../../src/os/detect.js";
import { inventoryAfterLayer, layerTouches } from "../../src/patch/after-inventory.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { openImage } from "../../src/transport/index.js";
import { openDatabaseForScan } from "../../src/vulndb/index.js";
import { ensureImage, type ImageName } from "../harness/images.js";
import { OCIPATCH_CACHE, trackerDb } from "../harness/patch-support.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-rescan-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Everything a package record says, the dpkg paragraph included (field by field, in order). */
function facts(p: InstalledPackage) {
  const rec = dpkgRecord(p);
  return {
    name: p.name,
    architecture: p.architecture,
    version: p.version,
    sourceName: p.sourceName,
    sourceVersion: p.sourceVersion,
    held: p.held,
    dbPath: p.dbPath,
    selection: rec.selection,
    multiArch: rec.multiArch,
    fields: [...rec.paragraph.fields],
  };
}

function sorted(inv: Inventory) {
  return inv.packages
    .map(facts)
    .sort((a, b) => `${a.name}:${a.architecture}`.localeCompare(`${b.name}:${b.architecture}`));
}

describe("re-scan without reading the layers", () => {
  for (const name of ["nginx-bullseye", "distroless-bookworm", "ubuntu-noble"] as ImageName[]) {
    it(`${name}: the computed inventory equals a real read of the written image`, async () => {
      const img = await ensureImage(name);
      const { db } = await openDatabaseForScan({ dbDir: await trackerDb(), offline: true });
      const dest = `oci:${join(work, name)}:patched`;
      const workDir = mkdtempSync(join(work, "run-"));
      try {
        const result = await patchImage({
          source: img.ociRef,
          destination: dest,
          mode: "all",
          db,
          repositories: { cacheDir: join(OCIPATCH_CACHE, "apt") },
          packageCacheDir: join(OCIPATCH_CACHE, "debs"),
          workDir,
        });
        expect(result.status).toBe("patched");
        const p = result.platforms[0]!;
        expect(p.built?.installed?.length).toBeGreaterThan(0);

        // the shortcut is taken: the layer touches nothing else the inventory derives from
        const before = await readInventory(await openImage(img.ociRef));
        const computed = await inventoryAfterLayer(before, {
          installed: p.built!.installed,
          paths: p.built!.paths,
          osFiles: p.built!.osFiles,
        });
        expect(computed).toBeDefined();
        // ubuntu-noble's upgrade of base-files writes /usr/lib/os-release: the OS is identified
        // from the files as the layer leaves them
        const touchesOs = OS_RELEASE_FILES.some((f) => layerTouches(p.built!.paths, f));
        expect(touchesOs).toBe(name === "ubuntu-noble");

        const read = await readInventory(await openImage(dest));
        expect(computed!.os).toEqual(read.os);
        expect(p.afterInventory!.os).toEqual(read.os);
        expect(read.packageManager).toBe(before.packageManager);
        expect(read.distroless).toBe(before.distroless);
        expect(sorted(computed!)).toEqual(sorted(read));
        // and that is what the patch's own re-scan used
        expect(sorted(p.afterInventory!)).toEqual(sorted(read));
        // the upgrades are in it
        const version = new Map(read.packages.map((x) => [`${x.name}:${x.architecture}`, x.version]));
        for (const u of p.built!.packages)
          expect(version.get(`${u.package}:${u.architecture}`)).toBe(u.toVersion);
      } finally {
        db.close();
        rmSync(workDir, { recursive: true, force: true });
      }
    }, 900_000);
  }
});
