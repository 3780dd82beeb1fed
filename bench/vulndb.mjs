#!/usr/bin/env node
/**
 * Benchmark of the vulnerability database (issue 4): `db update` peak RSS and time on a
 * ~70 MB tracker-like JSON (the real tracker subset, packages repeated under new names),
 * the conditional re-check, and a scan with a warm DB and a cached inventory.
 *
 *   npm run build && node bench/vulndb.mjs [--size-mb 70] [--shared ../shared] [--work DIR]
 *
 * Each measurement runs in a fresh child process so that its peak RSS is its own.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
};
const sizeMb = Number(opt("size-mb", "70"));
const shared =
  opt("shared") ??
  [join(repo, "../shared"), join(repo, "../../shared"), "/work/shared"].find((p) =>
    existsSync(join(p, "vulndata")),
  );
const work = opt("work", join(tmpdir(), "ocipatch-bench-vulndb"));
if (!existsSync(join(repo, "dist/vulndb/index.js"))) throw new Error("run `npm run build` first");
mkdirSync(work, { recursive: true });
const dist = (p) => JSON.stringify(join(repo, "dist", p));

/** Run an ES module snippet in a fresh node; it prints one JSON line. */
function child(code) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}
const REPORT = `
  const ru = process.resourceUsage();
  console.log(JSON.stringify({ ...result, ms: Math.round(performance.now() - t0),
    cpuMs: Math.round((ru.userCPUTime + ru.systemCPUTime) / 1000), peakRssMb: Math.round(ru.maxRSS / 1024) }));`;

// 1. a tracker-like feed of about sizeMb MB
const subsetPath = join(shared, "vulndata/debian/tracker-subset.json");
const feed = join(work, `tracker-${sizeMb}mb.json`);
if (!existsSync(feed) || statSync(feed).size < sizeMb * 1e6) {
  const subset = JSON.parse(readFileSync(subsetPath, "utf8"));
  const entries = Object.entries(subset).map(([k, v]) => [k, JSON.stringify(v)]);
  const out = createWriteStream(feed);
  let size = 1;
  out.write("{");
  let first = true;
  for (let copy = 0; size < sizeMb * 1e6; copy++) {
    for (const [name, value] of entries) {
      const chunk = `${first ? "" : ","}\n${JSON.stringify(copy === 0 ? name : `${name}-copy${copy}`)}: ${value}`;
      first = false;
      size += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
    }
  }
  out.end("\n}\n");
  await new Promise((r) => out.on("finish", r));
}
const feedMb = statSync(feed).size / 1e6;

// 2. db update (fresh), then the conditional re-check, then JSON.parse for comparison
const dbDir = join(work, "db");
rmSync(dbDir, { recursive: true, force: true });
const update = (force) =>
  child(`
  const { updateDatabase } = await import(${dist("vulndb/index.js")});
  const t0 = performance.now();
  const r = await updateDatabase({ dbDir: ${JSON.stringify(dbDir)}, locations: { debian: [${JSON.stringify(feed)}] }, force: ${force} });
  const result = { outcome: r.results[0].outcome, records: r.results[0].records, vulnerabilities: r.results[0].vulnerabilities };
  ${REPORT}`);
const fresh = update(true);
const recheck = update(false);
const naive = child(`
  import { readFileSync } from "node:fs";
  const t0 = performance.now();
  const doc = JSON.parse(readFileSync(${JSON.stringify(feed)}, "utf8"));
  const result = { packages: Object.keys(doc).length };
  ${REPORT}`);
const dbMb = statSync(join(dbDir, "vulndb.sqlite")).size / 1e6;

// 3. scan: warm DB (the big one and the real subset), cached inventory (the host's dpkg database as JSON)
const inventoryFile = join(work, "inventory.json");
const rows = execFileSync(
  "dpkg-query",
  [
    "-W",
    `-f=${["Package", "Version", "source:Package", "source:Version", "Architecture"].map((f) => `\${${f}}`).join("\\t")}\\n`,
  ],
  { encoding: "utf8" },
)
  .trim()
  .split("\n")
  .map((l) => l.split("\t"));
const osr = Object.fromEntries(
  readFileSync("/etc/os-release", "utf8")
    .split("\n")
    .filter((l) => l.includes("="))
    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).replace(/^"|"$/g, "")]),
);
writeFileSync(
  inventoryFile,
  JSON.stringify({
    os: {
      id: osr.ID,
      idLike: [],
      versionId: osr.VERSION_ID,
      codename: osr.VERSION_CODENAME,
      prettyName: osr.PRETTY_NAME,
      family: "debian",
      source: "/etc/os-release",
    },
    packageManager: "dpkg",
    distroless: false,
    warnings: [],
    packages: rows.map(([name, version, sourceName, sourceVersion, architecture]) => ({
      name,
      version,
      sourceName,
      sourceVersion,
      architecture,
      multiArch: undefined,
      selection: "install",
      dbPath: "/var/lib/dpkg/status",
    })),
  }),
);
const subsetDb = join(work, "db-subset");
child(`
  const { updateDatabase } = await import(${dist("vulndb/index.js")});
  const t0 = performance.now();
  await updateDatabase({ dbDir: ${JSON.stringify(subsetDb)}, locations: { debian: [${JSON.stringify(subsetPath)}] } });
  const result = {};
  ${REPORT}`);
const scan = (dir) =>
  child(`
  const t0 = performance.now();
  const { readFileSync } = await import("node:fs");
  const { scanInventory, formatScanJson } = await import(${dist("scan/index.js")});
  const { VulnDatabase } = await import(${dist("vulndb/index.js")});
  const inventory = JSON.parse(readFileSync(${JSON.stringify(inventoryFile)}, "utf8"));
  const db = VulnDatabase.open(${JSON.stringify(join(dir, "vulndb.sqlite"))});
  const t1 = performance.now();
  const r = scanInventory(inventory, db);
  const json = formatScanJson(r);
  const t2 = performance.now();
  db.close();
  const result = { packages: r.packages, total: r.summary.total, findings: r.summary.findings, matchMs: Math.round(t2 - t1), jsonBytes: json.length };
  ${REPORT}`);
const scanBig = scan(dbDir);
const scanSubset = scan(subsetDb);
const wall = (argv) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(repo, "bin/ocipatch"), ...argv], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return Math.round(performance.now() - t0);
};
const cliStatus = wall(["db", "status", "--db-dir", dbDir]);
const load = (await import("node:os")).loadavg()[0];

const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: (await import("node:os")).cpus().length,
  loadAverage1m: Number(load.toFixed(1)),
  feedMb: Number(feedMb.toFixed(1)),
  dbMb: Number(dbMb.toFixed(1)),
  updateFresh: fresh,
  updateUnchanged: recheck,
  jsonParseWholeFile: naive,
  scanWarmDbBig: scanBig,
  scanWarmDbSubset: scanSubset,
  cliDbStatusWallMs: cliStatus,
};
mkdirSync(join(repo, "bench/results"), { recursive: true });
writeFileSync(join(repo, "bench/results/vulndb.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
