/**
 * How far past `--timeout` a patch of an image at the layer limit ends: nginx-bullseye topped up
 * to MAX_LAYERS - 1 layers, the most a patch takes (each extra one a gzip layer with one file of random bytes), written as an
 * OCI layout, patched by the bundled CLI (a child process, start-up and exit included) with
 * `--timeout 20s`; the overrun is the wall time minus 20 s. Median of N runs, with the load average.
 *
 *   npm run build && OCIPATCH_SHARED=../shared node scripts/run-ts.mjs bench/timeout-overrun.ts \
 *     [--runs 3] [--layer-mib 2] [--timeout 20]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MAX_LAYERS } from "../src/image/manifest.js";
import { imageWithFileLayers } from "../test/harness/hostile-image.js";
import { ensureImage } from "../test/harness/images.js";
import { OCIPATCH_CACHE, trackerDb } from "../test/harness/patch-support.js";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const runs = arg("runs", 3);
const layerMiB = arg("layer-mib", 2);
const timeoutS = arg("timeout", 20);
const repo = resolve(import.meta.dirname, "..");
const bin = join(repo, "bin/ocipatch");
if (!existsSync(join(repo, "dist/cli-bundle/main.cjs"))) throw new Error("run `npm run build` first");

const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-overrun-"));
try {
  const base = await ensureImage("nginx-bullseye");
  const baseLayers = (await import("../test/harness/oci-layout.js")).resolveImages(
    base.layoutDir,
    base.tag,
  )[0]!.manifest.layers.length;
  // the most a patch accepts: the patch layer makes MAX_LAYERS (one more is refused up front)
  const extra = MAX_LAYERS - 1 - baseLayers;
  const t0 = Date.now();
  const ref = await imageWithFileLayers(
    base,
    join(work, "layout"),
    Array.from({ length: extra }, (_, i) => ({
      name: `filler/${i}`,
      bytes: layerMiB * 2 ** 20,
      fill: "random",
    })),
    "limit",
  );
  console.log(
    `image: ${baseLayers} base + ${extra} layers of ${layerMiB} MiB = ${baseLayers + extra} layers (built in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const db = await trackerDb();
  const overruns: number[] = [];
  for (let i = 1; i <= runs; i++) {
    const load = loadavg()[0]!.toFixed(2);
    const start = process.hrtime.bigint();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((done) => {
      const child = spawn(
        bin,
        [
          "patch",
          "--push",
          "-i",
          ref,
          "-t",
          `out-${i}`,
          "--db-dir",
          db,
          "--skip-db-update",
          "--timeout",
          `${timeoutS}s`,
        ],
        {
          env: { ...process.env, CI: "true", OCIPATCH_CACHE_DIR: OCIPATCH_CACHE },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let err = "";
      child.stderr.on("data", (c: Buffer) => {
        err += c.toString();
      });
      child.on("exit", (c) => done({ code: c, stderr: err }));
    });
    const wall = Number(process.hrtime.bigint() - start) / 1e9;
    const line = stderr.split("\n").filter((l) => l.startsWith("[error]"))[0] ?? "(no error line)";
    overruns.push(wall - timeoutS);
    console.log(
      `run ${i}: exit ${code}, wall ${wall.toFixed(2)} s, overrun ${(wall - timeoutS).toFixed(2)} s, load ${load}: ${line}`,
    );
  }
  const sorted = [...overruns].sort((a, b) => a - b);
  console.log(
    `median overrun past --timeout ${timeoutS}s: ${sorted[(sorted.length - 1) >> 1]!.toFixed(2)} s (${runs} runs)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
