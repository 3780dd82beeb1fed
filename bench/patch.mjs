#!/usr/bin/env node
/**
 * Benchmark of `ocipatch patch` (issue 6) against the apt-in-chroot BASELINE
 * (../shared/bench/baseline-patch.sh: pull, umoci unpack, chroot apt-get upgrade of the
 * security candidates, umoci repack, push), side by side in one run, on the harness's
 * 2-layer nginx-bullseye image served by a loopback docker-registry.
 *
 *   npm run build && node bench/patch.mjs [--runs 3] [--image nginx-bullseye] [--mode all|targets]
 *
 * Every run is cold for both tools: ocipatch gets an empty cache directory (apt indices and
 * .debs are downloaded again; V8's code cache of the CLI itself, kept beside its bundle, is not
 * one of its caches: it is there from the first run of a build on), the baseline unpacks a
 * fresh rootfs (apt-get update downloads the indices again). ocipatch then runs once more on the cache its cold run filled ("warm":
 * signed indices revalidated, the layer the cold run built taken from the layer cache, so no .deb
 * is read or downloaded; the image's layers are read again). Measured per run: wall time, peak RSS (GNU time, largest process),
 * bytes received from the mirror (non-loopback interfaces' rx counters, /proc/net/dev),
 * and for ocipatch the bytes it uploaded to the registry (its own transfer statistics).
 * Writes bench/results/patch.json and prints a Markdown table.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
if (!existsSync(join(repo, "dist/cli-bundle/main.cjs"))) throw new Error("run `npm run build` first");
const runs = Number(opt("runs", "3"));
const imageName = opt("image", "nginx-bullseye");
const mode = opt("mode", "all");
const shared = process.env.OCIPATCH_SHARED || resolve(repo, "../shared");
const baseline = join(shared, "bench/baseline-patch.sh");
const tracker = join(shared, "vulndata/debian/tracker-subset.json");

function testImage() {
  const dir = join(process.env.OCIPATCH_TEST_CACHE || "/var/cache/ocipatch-test", "images");
  const re = new RegExp(`^${imageName}-[0-9a-f]{16}$`);
  const hit = existsSync(dir) ? readdirSync(dir).find((d) => re.test(d)) : undefined;
  if (!hit) throw new Error(`no ${imageName} test image: run npm run test:images first`);
  const meta = JSON.parse(readFileSync(join(dir, hit, "image.json"), "utf8"));
  return { layout: join(dir, hit, "layout"), tag: meta.tag };
}

/** The host's apt mirrors (deb822 or one-line sources), for the baseline script. */
function hostMirrors() {
  const text = [];
  for (const d of ["/etc/apt/sources.list.d"]) {
    if (existsSync(d)) for (const f of readdirSync(d)) text.push(readFileSync(join(d, f), "utf8"));
  }
  if (existsSync("/etc/apt/sources.list")) text.push(readFileSync("/etc/apt/sources.list", "utf8"));
  const uris = [...text.join("\n").matchAll(/(?:^URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)/gm)].map(
    (m) => m[1],
  );
  const security = uris.find((u) => /security/.test(u));
  const debian = uris.find((u) => /\/debian\/?$/.test(u));
  if (!security || !debian) throw new Error("cannot find the host's Debian and security mirrors in /etc/apt");
  return { DEBIAN_MIRROR: debian, SECURITY_MIRROR: security };
}

function rxBytes() {
  let n = 0;
  for (const line of readFileSync("/proc/net/dev", "utf8").split("\n").slice(2)) {
    const [name, rest] = line.split(":");
    if (!rest || name.trim() === "lo") continue;
    n += Number(rest.trim().split(/\s+/)[0]);
  }
  return n;
}

/**
 * Run a command under GNU time; returns wall seconds, peak RSS (KiB, as time(1) gives it), rx
 * bytes, stdout. The files the run before wrote (and deleted) are flushed first, and the machine
 * gets a second to settle, so no run pays for the write-back of the one before it.
 */
function measure(cmd, argv, env) {
  execFileSync("sync");
  execFileSync("sleep", ["1"]);
  const timeFile = join(tmpdir(), `ocipatch-bench-time-${process.pid}`);
  const rx0 = rxBytes();
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", timeFile, cmd, ...argv], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
    env: { ...process.env, ...env },
  });
  const wall = (performance.now() - t0) / 1000;
  const rx = rxBytes() - rx0;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const rssKb = Number(readFileSync(timeFile, "utf8").trim().split("\n").pop());
  rmSync(timeFile, { force: true });
  return { wall, peakRssKiB: rssKb, rx, stdout: r.stdout, stderr: r.stderr };
}

async function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-patch-"));
const port = await freePort();
writeFileSync(
  join(work, "config.yml"),
  `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${work}/data\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
);
const log = openSync(join(work, "registry.log"), "a");
const registry = spawn("/usr/bin/docker-registry", ["serve", join(work, "config.yml")], {
  stdio: ["ignore", log, log],
});
const host = `127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`http://${host}/v2/`)).ok) break;
  } catch {}
  if (i > 200) throw new Error("registry did not start");
  await new Promise((r) => setTimeout(r, 50));
}

// V8's code cache of the CLI's `patch` (src/cli/code-cache.ts): part of the installed program, not
// of the caches a cold run starts without; the first run of a build writes it
const { codeCachePath } = await import(join(repo, "dist/cli/code-cache.js"));
const bundle = join(repo, "dist/cli-bundle/main.cjs");
const codeCacheBefore = existsSync(codeCachePath(bundle, readFileSync(bundle, "utf8"), "patch"));
const results = {
  image: imageName,
  mode,
  runs: [],
  machine: { cpus: (await import("node:os")).cpus().length },
  codeCache: codeCacheBefore ? "present before run 1" : "written by run 1",
};
try {
  const { layout, tag } = testImage();
  const src = `${host}/bench/${imageName}:src`;
  execFileSync("skopeo", [
    "copy",
    "-q",
    "--dest-tls-verify=false",
    `oci:${layout}:${tag}`,
    `docker://${src}`,
  ]);
  const db = join(work, "db");
  execFileSync(
    process.execPath,
    [join(repo, "bin/ocipatch"), "db", "update", "--db-dir", db, "--source", `debian=${tracker}`],
    {
      stdio: "ignore",
    },
  );
  const mirrors = hostMirrors();
  for (let i = 0; i < runs; i++) {
    // baseline
    const benchDir = join(work, `baseline-${i}`);
    const b = measure("bash", [baseline, src, `${host}/bench/${imageName}:baseline-${i}`], {
      ...mirrors,
      BENCH_DIR: benchDir,
    });
    const bj = JSON.parse(
      readFileSync(
        join(
          benchDir,
          "results",
          readdirSync(join(benchDir, "results")).find((f) => f.startsWith("patch-")),
        ),
        "utf8",
      ),
    );
    rmSync(benchDir, { recursive: true, force: true });
    // ocipatch, cold cache; then again on the cache that run filled (warm: indices revalidated, layer cached)
    const cache = join(work, `cache-${i}`);
    mkdirSync(cache);
    const ocipatch = (tag) =>
      measure(
        process.execPath,
        [
          join(repo, "bin/ocipatch"),
          "patch",
          "--push",
          "-i",
          src,
          "-t",
          tag,
          ...(mode === "all" ? ["--all"] : []),
          "--db-dir",
          db,
          "--skip-db-update",
          "--format",
          "json",
          // like the baseline: the image only, no VEX/SBOM referrers
          "--no-referrers",
          "--timeout",
          "10m",
        ],
        { OCIPATCH_CACHE_DIR: cache, CI: "true" },
      );
    const o = ocipatch(`ocipatch-${i}`);
    const warm = ocipatch(`ocipatch-${i}-warm`);
    rmSync(cache, { recursive: true, force: true });
    const oj = JSON.parse(o.stdout);
    const p = oj.platforms[0];
    const layer = p.layer;
    const rawConfigAndManifest = oj.destination.stats.bytesUploaded - (layer?.size ?? 0);
    const run = {
      baseline: {
        wall: b.wall,
        peakRssKiB: b.peakRssKiB,
        rxBytes: b.rx,
        upgraded: bj.upgraded_count,
        newLayerBytes: bj.new_layer.size,
        phases: bj.timings_s,
      },
      ocipatch: {
        wall: o.wall,
        peakRssKiB: o.peakRssKiB,
        rxBytes: o.rx,
        upgraded: p.packages.length,
        plannedDebBytes: p.download?.packageBytes ?? 0,
        indexBytes: p.download?.indexBytes ?? null,
        uploadedBytes: oj.destination.stats.bytesUploaded,
        blobsUploaded: oj.destination.stats.blobsUploaded,
        newLayerBytes: layer?.size ?? 0,
        configAndManifestBytes: rawConfigAndManifest,
        before: p.before,
        after: p.after,
      },
      ocipatchWarm: { wall: warm.wall, peakRssKiB: warm.peakRssKiB, rxBytes: warm.rx },
    };
    results.runs.push(run);
    console.error(
      `run ${i + 1}/${runs}: baseline ${b.wall.toFixed(1)} s, ocipatch ${o.wall.toFixed(2)} s, warm ${warm.wall.toFixed(2)} s`,
    );
  }
} finally {
  registry.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}

const pick = (side, k) => median(results.runs.map((r) => r[side][k]));
const summary = {
  wall: {
    baseline: pick("baseline", "wall"),
    ocipatch: pick("ocipatch", "wall"),
    ocipatchWarm: pick("ocipatchWarm", "wall"),
  },
  peakRssKiB: { baseline: pick("baseline", "peakRssKiB"), ocipatch: pick("ocipatch", "peakRssKiB") },
  rxBytes: { baseline: pick("baseline", "rxBytes"), ocipatch: pick("ocipatch", "rxBytes") },
  upgraded: { baseline: pick("baseline", "upgraded"), ocipatch: pick("ocipatch", "upgraded") },
};
results.summary = summary;
mkdirSync(join(repo, "bench/results"), { recursive: true });
writeFileSync(join(repo, "bench/results/patch.json"), `${JSON.stringify(results, null, 2)}\n`);
const mb = (n) => (n / 1e6).toFixed(1);
console.log(`| measure (median of ${runs}) | baseline | ocipatch | ratio |`);
console.log("|---|---:|---:|---:|");
console.log(
  `| wall time | ${summary.wall.baseline.toFixed(1)} s | ${summary.wall.ocipatch.toFixed(2)} s | ${(summary.wall.ocipatch / summary.wall.baseline).toFixed(3)}× |`,
);
console.log(
  `| wall time, warm cache | | ${summary.wall.ocipatchWarm.toFixed(2)} s | ${(summary.wall.ocipatchWarm / summary.wall.baseline).toFixed(3)}× |`,
);
console.log(
  `| bytes from the mirror | ${mb(summary.rxBytes.baseline)} MB | ${mb(summary.rxBytes.ocipatch)} MB | ${(summary.rxBytes.ocipatch / summary.rxBytes.baseline).toFixed(2)}× |`,
);
// the target is in MB (10^6 bytes); MiB beside it (earlier tables here said "MB" for MiB)
const rss = (kib) => `${((kib * 1024) / 1e6).toFixed(0)} MB (${(kib / 1024).toFixed(0)} MiB)`;
console.log(`| peak RSS | ${rss(summary.peakRssKiB.baseline)} | ${rss(summary.peakRssKiB.ocipatch)} | |`);
console.log(`| packages upgraded | ${summary.upgraded.baseline} | ${summary.upgraded.ocipatch} | |`);
console.log(`\nV8 code cache of ocipatch's patch command: ${results.codeCache}`);
const r0 = results.runs[0].ocipatch;
console.log(
  `\nocipatch run 1: uploaded ${r0.uploadedBytes} bytes in ${r0.blobsUploaded} blobs (new layer ${r0.newLayerBytes} + config/manifest ${r0.configAndManifestBytes}); .debs ${r0.plannedDebBytes} bytes, indices ${r0.indexBytes} bytes; rx ${r0.rxBytes} bytes`,
);
