#!/usr/bin/env node
/**
 * Benchmark of the inventory (issue 3): `readInventory` of the 2-layer nginx image
 * served by a loopback registry. Reports bytes downloaded vs image size, which layers
 * were read, wall time and peak RSS; and the same for reading only the dpkg status
 * file; and, as a baseline, a full pull + unpack + dpkg-query (skopeo, umoci, dpkg).
 *
 *   npm run build && node bench/inventory.mjs [--layout DIR --tag TAG] [--runs 3]
 *
 * Default image: the test harness's nginx-bullseye layout in $OCIPATCH_TEST_CACHE.
 * Needs docker-registry, skopeo, umoci, dpkg-query (root for umoci unpack).
 * Each measurement runs in a fresh node process so that its peak RSS is its own.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
if (!existsSync(join(repo, "dist/inventory/index.js"))) throw new Error("run `npm run build` first");
const runs = Number(opt("runs", "3"));

function defaultLayout() {
  const cache = process.env.OCIPATCH_TEST_CACHE || "/var/cache/ocipatch-test";
  const dir = join(cache, "images");
  const hit = existsSync(dir)
    ? readdirSync(dir).find((d) => /^nginx-bullseye-[0-9a-f]{16}$/.test(d))
    : undefined;
  if (!hit) throw new Error("no nginx-bullseye test image; pass --layout DIR --tag TAG");
  const meta = JSON.parse(readFileSync(join(dir, hit, "image.json"), "utf8"));
  return { layout: join(dir, hit, "layout"), tag: meta.tag };
}
const { layout, tag } = opt("layout")
  ? { layout: opt("layout"), tag: opt("tag", "latest") }
  : defaultLayout();

// ---------------------------------------------------------------- loopback registry
async function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}
const regDir = mkdtempSync(join(tmpdir(), "ocipatch-bench-inv-"));
const port = await freePort();
writeFileSync(
  join(regDir, "config.yml"),
  `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${regDir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
);
const log = openSync(join(regDir, "registry.log"), "a");
const registry = spawn("/usr/bin/docker-registry", ["serve", join(regDir, "config.yml")], {
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
const cleanup = () => {
  registry.kill("SIGTERM");
  rmSync(regDir, { recursive: true, force: true });
};

try {
  execFileSync("skopeo", [
    "copy",
    "-q",
    "--dest-tls-verify=false",
    `oci:${layout}:${tag}`,
    `docker://${host}/nginx:bench`,
  ]);

  /** Run an ES module snippet in a fresh node; it prints one JSON line. */
  const child = (code) => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop());
  };
  const dist = (p) => JSON.stringify(join(repo, "dist", p));
  // Interim: a minimal anonymous registry ContentSource counting HTTP body bytes
  // (the registry transport of another branch replaces it once merged).
  const prelude = `
    import { fromRawManifest } from ${dist("image/source.js")};
    import { selectImage } from ${dist("image/select.js")};
    import { LayeredFs } from ${dist("rootfs/index.js")};
    import { readInventoryFromFs } from ${dist("inventory/index.js")};
    import { Readable } from "node:stream";
    let httpBytes = 0;
    const base = "http://${host}/v2/nginx";
    const count = (r) => { const s = Readable.fromWeb(r.body); s.on("data", (c) => { httpBytes += c.length; }); return s; };
    const source = {
      description: "${host}/nginx:bench",
      async fetchManifest(d) {
        const r = await fetch(base + "/manifests/" + d.digest, { headers: { accept: d.mediaType } });
        const bytes = Buffer.from(await r.arrayBuffer()); httpBytes += bytes.length;
        return { bytes, mediaType: r.headers.get("content-type") ?? undefined, digest: d.digest };
      },
      async openBlob(d) { return count(await fetch(base + "/blobs/" + d.digest)); },
    };
    const t0 = performance.now();
    const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    const mr = await fetch(base + "/manifests/bench", { headers: { accept } });
    const mbytes = Buffer.from(await mr.arrayBuffer()); httpBytes += mbytes.length;
    const image = await selectImage(fromRawManifest(source, { bytes: mbytes, mediaType: mr.headers.get("content-type"), digest: mr.headers.get("docker-content-digest") }));
    const fs = await LayeredFs.open(image);
  `;
  const report = `
    const ru = process.resourceUsage();
    const st = fs.stats();
    const cfg = (await image.rawConfig()).length;
    console.log(JSON.stringify({ ...result, ms: Math.round(performance.now() - t0), peakRssMb: Math.round(ru.maxRSS / 1024),
      httpBytes, imageBytes: st.imageBytes + cfg + mbytes.length, layerBytes: st.imageBytes,
      layersRead: st.layers.map((l) => l.index + 1 + "/" + st.layerCount), layerSizes: (await image.layers()).map((l) => l.size) }));
  `;
  const inventory = [];
  const statusOnly = [];
  for (let i = 0; i < runs; i++) {
    inventory.push(
      child(
        `${prelude} const inv = await readInventoryFromFs(fs); const result = { packages: inv.packages.length, os: inv.os.id + " " + inv.os.versionId }; ${report}`,
      ),
    );
    statusOnly.push(
      child(
        `${prelude} const b = await fs.readFile("/var/lib/dpkg/status"); const result = { statusBytes: b.length }; ${report}`,
      ),
    );
  }
  // Baseline: pull everything, unpack, ask dpkg.
  const baseline = [];
  for (let i = 0; i < runs; i++) {
    const w = mkdtempSync(join(tmpdir(), "ocipatch-bench-baseline-"));
    const t0 = performance.now();
    execFileSync("skopeo", [
      "copy",
      "-q",
      "--src-tls-verify=false",
      `docker://${host}/nginx:bench`,
      `oci:${w}/l:x`,
    ]);
    execFileSync("umoci", ["unpack", "--image", `${w}/l:x`, `${w}/b`], { stdio: "ignore" });
    const n = execFileSync("dpkg-query", [`--admindir=${w}/b/rootfs/var/lib/dpkg`, "-W"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    })
      .trim()
      .split("\n").length;
    baseline.push({ ms: Math.round(performance.now() - t0), packages: n });
    rmSync(w, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = {
    image: `${layout}:${tag}`,
    runs,
    inventory: {
      ...inventory[0],
      ms: median(inventory.map((r) => r.ms)),
      peakRssMb: median(inventory.map((r) => r.peakRssMb)),
    },
    statusOnly: {
      ...statusOnly[0],
      ms: median(statusOnly.map((r) => r.ms)),
      peakRssMb: median(statusOnly.map((r) => r.peakRssMb)),
    },
    baselinePullUnpackDpkgQuery: { ms: median(baseline.map((r) => r.ms)), packages: baseline[0].packages },
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  cleanup();
}
