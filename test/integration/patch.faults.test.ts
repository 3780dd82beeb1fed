/**
 * Faults in the middle of building the patch layer: a cancellation (deadline or signal)
 * at any moment of the build ends it with the cancellation — never a stray parser error
 * escaping as an uncaught exception (which used to end the process before its clean-up) —
 * and the half-written layer file is removed. Real image, real .debs from the mirror.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { buildPatchLayer, type DebToInstall } from "../../src/patch/build/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { debianDeb } from "../harness/debian-packages.js";
import { ensureImage } from "../harness/images.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-faults-build-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("cancelling the layer build", () => {
  it("at any moment: the cancellation is the error, the layer file is gone, nothing escapes", async () => {
    const img = await ensureImage("nginx-bookworm");
    const image = await openImage(img.ociRef);
    const packages = ["libssl3", "openssl"];
    let cancelled = 0;
    // from "before the first entry" to "in the middle of libssl3's large .so files"
    for (const delayMs of [0, 5, 20, 60, 150, 300, 600]) {
      const signal = AbortSignal.timeout(Math.max(1, delayMs));
      const fs = await LayeredFs.open(image, { scratchDir: work, signal });
      const layerPath = join(work, `layer-${delayMs}.tar.gz`);
      try {
        const inventory = await readInventoryFromFs(fs);
        const debs: DebToInstall[] = packages.map((p) => {
          const installed = inventory.packages.find((x) => x.name === p)!;
          return {
            package: p,
            architecture: installed.architecture,
            debPath: debianDeb("bookworm-security", p).path,
            installed,
          };
        });
        await buildPatchLayer({
          fs,
          inventory,
          debs,
          compression: "gzip",
          layerPath,
          manifestMediaType: image.mediaType,
          signal,
        });
        // finished before the deadline: fine, but then the layer is there
        expect(existsSync(layerPath)).toBe(true);
      } catch (e) {
        if (!signal.aborted) throw e;
        cancelled++;
        const err = e as Error & { code?: string };
        // the cancellation itself, not a consequence of it
        expect(err.message).not.toMatch(/ended early|corrupt|truncated/);
        expect(
          err.code === "CANCELLED" || err.name === "AbortError" || err.name === "TimeoutError",
          `${delayMs}ms: ${err.name} ${err.code} ${err.message}`,
        ).toBe(true);
        expect(existsSync(layerPath)).toBe(false);
      } finally {
        await fs.close();
      }
    }
    expect(cancelled).toBeGreaterThan(0);
  }, 300_000);
});
