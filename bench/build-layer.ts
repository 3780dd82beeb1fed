/**
 * The layer-build stage of a patch (issue 13 §1) in isolation: nginx-bullseye patched `--all`
 * into an OCI layout with a warm package cache, N times; reports per run the time from the
 * "building the patch layer" message to the start of the write (the build, plus appending the
 * layer to the image) and the layer's digest (must be the same every run), then the median.
 *
 *   OCIPATCH_SHARED=../shared node scripts/run-ts.mjs bench/build-layer.ts [--runs 5]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { patchImage } from "../src/patch/patch-image.js";
import { openDatabaseForScan } from "../src/vulndb/index.js";
import { ensureImage } from "../test/harness/images.js";
import { OCIPATCH_CACHE, trackerDb } from "../test/harness/patch-support.js";
import { median, runsArg } from "./args.js";

const runs = runsArg();

/** CPU seconds of this process (every thread) and of its waited-for children (host zstd, for zstd members above 4 MiB). */
function cpu(): { self: number; children: number } {
  const u = process.cpuUsage();
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // fields 16 and 17 (cutime, cstime) in clock ticks; index 13 and 14 after the command name
  return { self: (u.user + u.system) / 1e6, children: (Number(f[13]) + Number(f[14])) / 100 };
}

const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-build-"));
const { db } = await openDatabaseForScan({ dbDir: await trackerDb(), offline: true });
try {
  const img = await ensureImage("nginx-bullseye");
  const times: number[] = [];
  const cpus: number[] = [];
  const digests = new Set<string>();
  for (let k = 0; k < runs; k++) {
    let start = 0;
    let end = 0;
    let cpu0 = cpu();
    let cpu1 = cpu0;
    const r = await patchImage({
      source: img.ociRef,
      destination: `oci:${join(work, `out-${k}`)}:p`,
      mode: "all",
      db,
      repositories: { cacheDir: join(OCIPATCH_CACHE, "apt") },
      packageCacheDir: join(OCIPATCH_CACHE, "debs"),
      workDir: mkdtempSync(join(work, "run-")),
      log: {
        info: (m) => {
          if (m.includes("building the patch layer")) {
            start = performance.now();
            cpu0 = cpu();
          }
        },
        success: () => {},
        warning: () => {},
      },
      onPhase: (p) => {
        if (p === "writing") {
          end = performance.now();
          cpu1 = cpu();
        }
      },
    });
    const built = r.platforms[0]!.built!;
    digests.add(built.layer.descriptor.digest);
    times.push(end - start);
    const self = cpu1.self - cpu0.self;
    const children = cpu1.children - cpu0.children;
    cpus.push(self + children);
    console.error(
      `run ${k + 1}/${runs} (load ${loadavg()[0]!.toFixed(1)}): build ${(end - start).toFixed(0)} ms, cpu ${self.toFixed(2)} s + children ${children.toFixed(2)} s, ${built.packages.length} packages, ${built.layer.descriptor.digest.slice(7, 19)}`,
    );
  }
  console.log(
    `layer build of nginx-bullseye --all, median of ${runs}: ${median(times).toFixed(0)} ms, cpu ${median(cpus).toFixed(2)} s (load ${loadavg()[0]!.toFixed(1)}); digests: ${[...digests].join(" ")}`,
  );
} finally {
  db.close();
  rmSync(work, { recursive: true, force: true });
}
