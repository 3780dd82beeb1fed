/**
 * Fleet patching (issue 13 §3): 8 images that share nginx-bullseye's two layers, each with its own
 * small top layer (one file of random bytes), patched with copa's PatchConfig (`--config --push`),
 * against ONE of them patched alone, alternating, in the same run. Sources live in one
 * docker-registry, results go to a second one that is emptied before every run (no blob of an
 * earlier run is found there). Warm package cache (indices and .debs downloaded before the timed
 * runs), `--all`, no referrers. Also reports the patch-layer uploads seen in the target registry's
 * log, and the single-image wall time of another checkout (`--base DIR`, e.g. main) when given.
 *
 *   npm run build && OCIPATCH_SHARED=../shared node scripts/run-ts.mjs bench/fleet.ts \
 *     [--runs 3] [--images 8] [--jobs 2] [--base /path/to/other/checkout]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { imageWithFileLayers } from "../test/harness/hostile-image.js";
import { ensureImage } from "../test/harness/images.js";
import { trackerDb } from "../test/harness/patch-support.js";
import { pushImage } from "../test/harness/push.js";
import { registryLog, startRegistry, type TestRegistry } from "../test/harness/registry.js";

const opt = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : process.argv[i + 1]!;
};
const runs = Number(opt("runs", "3"));
const count = Number(opt("images", "8"));
const jobs = Number(opt("jobs", "2"));
const baseCheckout = opt("base", "");
const repo = resolve(import.meta.dirname, "..");
if (!existsSync(join(repo, "dist/cli-bundle/main.cjs"))) throw new Error("run `npm run build` first");

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function ocipatch(checkout: string, args: string[], env: Record<string, string>) {
  return new Promise<{ wall: number; stderr: string; stdout: string }>((done, fail) => {
    const t0 = performance.now();
    const child = spawn(join(checkout, "bin/ocipatch"), args, {
      env: { ...process.env, CI: "true", ...env },
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.on("close", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0) fail(new Error(`ocipatch ${args[0]} exited ${code}:\n${stderr.slice(-3000)}`));
      else done({ wall, stderr, stdout });
    });
  });
}

/** Finished blob uploads and 201 mounts in the target registry's log, per digest. */
function transfers(reg: TestRegistry) {
  const log = registryLog(reg);
  const count = (re: RegExp) => {
    const out = new Map<string, number>();
    for (const m of log.matchAll(re)) {
      const d = decodeURIComponent(m[1]!);
      out.set(d, (out.get(d) ?? 0) + 1);
    }
    return out;
  };
  return {
    uploads: count(
      /"PUT \/v2\/[^ "]+\/blobs\/uploads\/[^ "]*[?&]digest=(sha256(?::|%3A)[0-9a-f]{64})[^"]*" 201/g,
    ),
    mounts: count(
      /"POST \/v2\/[^ "]+\/blobs\/uploads\/\?[^ "]*mount=(sha256(?::|%3A)[0-9a-f]{64})[^"]*" 201/g,
    ),
  };
}

const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-fleet-"));
const sources = await startRegistry();
let target: TestRegistry | undefined;
try {
  const base = await ensureImage("nginx-bullseye");
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const ref = await imageWithFileLayers(
      base,
      join(work, `layout-${i}`),
      [{ name: `srv/app-${i}/data`, bytes: 512 * 1024, fill: "random" }],
      "1.0",
    );
    await pushImage({ ociRef: ref }, sources.host, `fleet/app-${i}:1.0`);
    names.push(`app-${i}`);
  }
  const db = await trackerDb();
  const cache = join(work, "cache");
  const common = ["--all", "--db-dir", db, "--skip-db-update", "--no-referrers", "--insecure"];
  const env = { OCIPATCH_CACHE_DIR: cache };
  const config = (targetHost: string) => {
    const file = join(work, "fleet.yaml");
    writeFileSync(
      file,
      `apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: ${targetHost}/patched
images:
${names.map((n) => `  - name: ${n}\n    image: ${sources.host}/fleet/${n}\n    tags:\n      strategy: list\n      list: ["1.0"]\n`).join("")}`,
    );
    return file;
  };
  const fresh = async () => {
    await target?.stop();
    target = await startRegistry();
    return target;
  };
  const single = async (checkout: string, t: TestRegistry) =>
    ocipatch(
      checkout,
      [
        "patch",
        "-i",
        `${sources.host}/fleet/app-0:1.0`,
        "--dest",
        `docker://${t.host}/patched/app-0:1.0-patched`,
        ...common,
      ],
      env,
    );
  const fleet = async (checkout: string, t: TestRegistry) =>
    ocipatch(
      checkout,
      ["patch", "--config", config(t.host), "--push", "--jobs", String(jobs), ...common],
      env,
    );

  // warm-up (untimed): indices and .debs into the cache
  await single(repo, await fresh());

  const rows: {
    single: number;
    fleet: number;
    base?: number;
    baseFleet?: number;
    load: string;
    layerUploads: number[];
    layerMounts: number;
  }[] = [];
  for (let i = 0; i < runs; i++) {
    const load = loadavg()[0]!.toFixed(1);
    const s = await single(repo, await fresh());
    const b = baseCheckout ? (await single(baseCheckout, await fresh())).wall : undefined;
    const bf = baseCheckout ? (await fleet(baseCheckout, await fresh())).wall : undefined;
    const t = await fresh();
    const f = await fleet(repo, t);
    const { uploads, mounts } = transfers(t);
    // blobs of more than 1 MiB: the two base layers and the patch layer (each image's own top layer is smaller)
    const big = (d: string) => {
      const hex = d.split(":")[1]!;
      const p = join(t.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
      return existsSync(p) && statSync(p).size > 1024 * 1024;
    };
    const layerUploads = [...uploads.entries()].filter(([d]) => big(d)).map(([, n]) => n);
    const layerMounts = [...mounts.entries()].filter(([d]) => big(d)).reduce((n, [, k]) => n + k, 0);
    rows.push({
      single: s.wall,
      fleet: f.wall,
      ...(b === undefined ? {} : { base: b }),
      ...(bf === undefined ? {} : { baseFleet: bf }),
      load,
      layerUploads,
      layerMounts,
    });
    console.error(
      `run ${i + 1}/${runs} (load ${load}): one image ${s.wall.toFixed(1)} s${b === undefined ? "" : `, base checkout ${b.toFixed(1)} s and ${count} images ${bf!.toFixed(1)} s`}, ${count} images ${f.wall.toFixed(1)} s (${(f.wall / s.wall).toFixed(2)}×), large blobs uploaded ${layerUploads.length} (${layerUploads.join(",")} times each), mounted ${layerMounts} times`,
    );
  }
  const ms = median(rows.map((r) => r.single));
  const mf = median(rows.map((r) => r.fleet));
  console.log(
    `| run | load | one image | ${count} images (--jobs ${jobs}) | ratio | blobs > 1 MiB in the target registry |${baseCheckout ? ` base checkout: one image | ${count} images | ratio |` : ""}`,
  );
  console.log(`| --- | --- | ---: | ---: | ---: | --- |${baseCheckout ? " ---: | ---: | ---: |" : ""}`);
  for (const [i, r] of rows.entries()) {
    console.log(
      `| ${i + 1} | ${r.load} | ${r.single.toFixed(1)} s | ${r.fleet.toFixed(1)} s | ${(r.fleet / r.single).toFixed(2)}× | ${r.layerUploads.length} uploaded (${r.layerUploads.join(",")}×), ${r.layerMounts} mounts |${r.base === undefined ? "" : ` ${r.base.toFixed(1)} s | ${r.baseFleet!.toFixed(1)} s | ${(r.baseFleet! / r.base).toFixed(2)}× |`}`,
    );
  }
  console.log(
    `median: one image ${ms.toFixed(1)} s, ${count} images ${mf.toFixed(1)} s, ratio ${(mf / ms).toFixed(2)}×`,
  );
  if (baseCheckout)
    console.log(
      `median, base checkout: one image ${median(rows.map((r) => r.base!)).toFixed(1)} s, ${count} images ${median(rows.map((r) => r.baseFleet!)).toFixed(1)} s`,
    );
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  writeFileSync(
    join(repo, "bench/results/fleet.json"),
    `${JSON.stringify({ count, jobs, rows }, null, 2)}\n`,
  );
} finally {
  await target?.stop();
  await sources.stop();
  rmSync(work, { recursive: true, force: true });
}
