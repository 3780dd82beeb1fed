/**
 * A load the engine rejects because its disk is full: a real dockerd whose data root is a small
 * tmpfs. `patch` of an image that does not fit fails with one error line carrying the engine's
 * reason, a non-zero exit, and leaves nothing tagged (or half-loaded) in the store; the engine
 * keeps working afterwards.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { startDockerd, type TestEngine } from "../harness/dockerd.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { runCli, TRACKER_SUBSET } from "../harness/patch-support.js";

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}

describe("patch into an engine whose disk is full", { timeout: 600_000 }, () => {
  let engine: TestEngine;
  let img: TestImage;
  let dbDir: string;

  beforeAll(async () => {
    dbDir = temp("engine-full-db");
    await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
    img = await ensureImage("nginx-bullseye");
    // room for the engine's own state, not for a ~140 MB image
    engine = await startDockerd({ dataRootTmpfs: "48m" });
  }, 600_000);
  afterAll(async () => {
    await engine?.stop();
    for (const d of work) await rm(d, { recursive: true, force: true });
  });

  it("one error line with the engine's reason, non-zero, nothing tagged or left in the store", async () => {
    const ref = "local/too-big:1-patched";
    const r = await runCli(
      ["patch", "-i", img.ociRef, "-t", ref, "--db-dir", dbDir, "--skip-db-update", "--no-referrers"],
      { DOCKER_HOST: engine.host },
    );
    expect(r.code, r.stderr).not.toBe(0);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors, r.stderr).toHaveLength(1);
    expect(errors[0]).toMatch(/no space left on device/i);
    expect(errors[0]).toContain(engine.host);
    expect(r.stderr).not.toContain("Patched image successfully");
    // nothing tagged, and no image at all (dangling or not): the store was empty before
    expect((await engine.docker(["images", "-a", "-q"])).stdout.trim()).toBe("");
    // the engine still answers and its store works
    expect((await engine.docker(["info", "--format", "{{.Images}}"])).stdout.trim()).toBe("0");
  });
});
