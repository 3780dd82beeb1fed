#!/usr/bin/env node
// Planning benchmark (issue 5): time and bytes to plan the nginx:bullseye image (`--all`),
// cold (empty index cache) and warm (cached, verified indices), next to apt-get update.
//
//   npm run build && node bench/plan.mjs [--runs N] [--json FILE]
//
// Needs root (mmdebstrap builds the image's dpkg status once, cached under
// $OCIPATCH_TEST_CACHE, default /var/cache/ocipatch-test) and the host's Debian mirror.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseParagraphs } from "../dist/backends/dpkg/debian/deb822.js";
import { parseAptSources, planForImage, readHostAptSources } from "../dist/index.js";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1] || 5) || 5;
const jsonOut = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;
const cacheRoot = process.env.OCIPATCH_TEST_CACHE || "/var/cache/ocipatch-test";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

// ---- the host's mirror (as the tests find it)
const host = await readHostAptSources("/");
const entries = parseAptSources(host.sources).entries.filter((e) => e.type === "deb");
const debian = entries.find((e) => !/-security$/.test(e.suite) && /\/debian$/.test(e.uri))?.uri;
const security = entries.find((e) => /-security$/.test(e.suite))?.uri;
if (!debian || !security) throw new Error("the host's apt sources name no Debian mirror");

// ---- the image's dpkg status: bullseye main + nginx-light curl openssl ca-certificates (like ../shared/bench)
const statusFile = join(cacheRoot, "dpkg-status", "bullseye-nginx.status");
if (!existsSync(statusFile)) {
  mkdirSync(join(cacheRoot, "dpkg-status"), { recursive: true });
  execFileSync("bash", [
    "-c",
    `set -o pipefail; mmdebstrap --variant=minbase --format=tar --aptopt='Acquire::Languages "none"' ` +
      `--include=nginx-light,curl,openssl,ca-certificates bullseye - "deb ${debian} bullseye main" ` +
      `| tar -xO ./var/lib/dpkg/status > ${statusFile}.tmp`,
  ]);
  renameSync(`${statusFile}.tmp`, statusFile);
}
const packages = [];
for (const p of parseParagraphs(readFileSync(statusFile, "utf8"))) {
  const st = (p.get("Status") ?? "").split(/\s+/);
  if (st[2] !== "installed") continue;
  const src = /^(\S+)(?:\s*\(([^)]+)\))?$/.exec(p.get("Source") ?? "");
  packages.push({
    name: p.get("Package"),
    version: p.get("Version"),
    architecture: p.get("Architecture"),
    sourceName: src?.[1] ?? p.get("Package"),
    sourceVersion: src?.[2] ?? p.get("Version"),
    multiArch: p.get("Multi-Arch"),
    selection: st[0],
    dbPath: "/var/lib/dpkg/status",
    record: p,
  });
}
const os = {
  id: "debian",
  idLike: [],
  versionId: "11",
  codename: "bullseye",
  prettyName: "",
  family: "debian",
  source: "",
};
const input = (cacheDir) => ({
  inventory: { os, packages },
  architecture: "amd64",
  aptFiles: {
    sources: [{ path: "/etc/apt/sources.list", content: `deb ${debian} bullseye main\n` }],
    keyrings: [{ path: KEYRING, content: readFileSync(KEYRING) }],
  },
  mode: "all",
  host: null,
  hostKeyrings: null,
  client: { cacheDir },
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const scratch = mkdtempSync(join(tmpdir(), "ocipatch-bench-plan-"));
const results = {
  image: "nginx:bullseye (bullseye main + nginx-light curl openssl ca-certificates)",
  packages: packages.length,
};
try {
  // cold: a fresh cache per run
  const cold = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const dir = join(scratch, `cold${i}`);
    const t = performance.now();
    const r = await planForImage(input(dir));
    cold.push({
      ms: performance.now() - t,
      bytes: r.stats.bytesDownloaded,
      requests: r.stats.requests,
      updates: r.plan.updates.length,
      releaseIndex: r.releaseIndexLoaded,
    });
  }
  // warm: the same cache, again and again
  const warmDir = join(scratch, "cold0");
  const warm = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = await planForImage(input(warmDir));
    warm.push({
      ms: performance.now() - t,
      bytes: r.stats.bytesDownloaded,
      requests: r.stats.requests,
      updates: r.plan.updates.length,
    });
  }
  // offline (no revalidation): what the planning itself costs
  const offline = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await planForImage({ ...input(warmDir), client: { cacheDir: warmDir, offline: true } });
    offline.push(performance.now() - t);
  }
  // the release's full index (what dependency resolution would add when it needs it)
  const full = [];
  for (const dir of [join(scratch, "full"), join(scratch, "full")]) {
    const t = performance.now();
    const r = await planForImage({ ...input(dir), releaseIndex: "always" });
    full.push({ ms: performance.now() - t, bytes: r.stats.bytesDownloaded });
  }
  // baseline: apt-get update for the same three suites (what copa/baseline-patch.sh run in the image)
  const w = join(scratch, "apt");
  for (const d of ["empty", "lists/partial", "cache", "state"]) mkdirSync(join(w, d), { recursive: true });
  writeFileSync(
    join(w, "sources.list"),
    [`${debian} bullseye`, `${debian} bullseye-updates`, `${security} bullseye-security`]
      .map((s) => `deb [signed-by=${KEYRING}] ${s} main`)
      .join("\n"),
  );
  writeFileSync(
    join(w, "apt.conf"),
    [
      `Dir::Etc::Parts "${w}/empty";`,
      `Dir::Etc::SourceList "${w}/sources.list";`,
      `Dir::Etc::SourceParts "${w}/empty";`,
      `Dir::State "${w}/state";`,
      `Dir::State::Lists "${w}/lists";`,
      `Dir::State::status "${statusFile}";`,
      `Dir::Cache "${w}/cache";`,
      `APT::Architecture "amd64";`,
      `Acquire::Languages "none";`,
      `Debug::NoLocking "true";`,
      `APT::Sandbox::User "root";`,
    ].join("\n"),
  );
  const t = performance.now();
  const out = execFileSync("apt-get", ["update"], {
    env: { ...process.env, APT_CONFIG: join(w, "apt.conf"), LC_ALL: "C" },
  }).toString();
  const aptMs = performance.now() - t;
  const fetched = /Fetched ([\d,.]+ [kMG]?B)/.exec(out)?.[1] ?? "?";

  Object.assign(results, {
    updates: warm[0].updates,
    cold: {
      medianMs: median(cold.map((c) => c.ms)),
      bytes: cold[0].bytes,
      requests: cold[0].requests,
      releaseIndexLoaded: cold[0].releaseIndex,
    },
    warm: {
      medianMs: median(warm.map((c) => c.ms)),
      minMs: Math.min(...warm.map((c) => c.ms)),
      bytes: warm[0].bytes,
      requests: warm[0].requests,
    },
    warmOffline: { medianMs: median(offline) },
    withReleaseIndex: { coldMs: full[0].ms, coldBytes: full[0].bytes, warmMs: full[1].ms },
    aptGetUpdate: { ms: aptMs, fetched },
  });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const f = (ms) => `${(ms / 1000).toFixed(2)} s`;
const kb = (b) => `${(b / 1024).toFixed(0)} KiB`;
console.log(
  `Planning ${results.image}: ${results.packages} installed, ${results.updates} upgrades planned (--all)`,
);
console.log(`| case | time | downloaded |`);
console.log(`|---|---|---|`);
console.log(
  `| cold (empty cache) | ${f(results.cold.medianMs)} | ${kb(results.cold.bytes)} in ${results.cold.requests} requests |`,
);
console.log(
  `| warm (cached indices, InRelease revalidated) | ${f(results.warm.medianMs)} (min ${f(results.warm.minMs)}) | ${kb(results.warm.bytes)} in ${results.warm.requests} requests |`,
);
console.log(`| warm, offline (no network) | ${f(results.warmOffline.medianMs)} | 0 |`);
console.log(
  `| cold + release index (releaseIndex: always) | ${f(results.withReleaseIndex.coldMs)} | ${kb(results.withReleaseIndex.coldBytes)} |`,
);
console.log(`| warm + release index | ${f(results.withReleaseIndex.warmMs)} | |`);
console.log(
  `| baseline: apt-get update, same suites (cold lists) | ${f(results.aptGetUpdate.ms)} | ${results.aptGetUpdate.fetched} |`,
);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(results, null, 2)}\n`);
