#!/usr/bin/env node
// Copy benchmark (issue 2): `ocipatch copy` vs `skopeo copy`, same images, same run, interleaved.
//
//   npm run build && node bench/copy.mjs [--runs N] [--big-mb MB] [--json FILE]
//
// Scenarios (source: a fresh loopback docker-registry "A" the script starts and fills with skopeo):
//   same-registry  A/src → A/<new repo>      (cross-repository mount: cheap for both tools)
//   other-registry A/src → B/<new repo>      (B is a FRESH registry per copy, so every byte moves and
//                                              skopeo's blob-info cache cannot mount anything)
//   oci            A/src → oci:<new dir>
// Images: nginx-bookworm (2 layers), multiarch-bookworm (index of 2 platforms; skopeo gets --all),
// and "big": one random (incompressible) layer of --big-mb MiB, to show whether memory grows with size.
// Each copy is one process under /usr/bin/time -v: wall time from the parent, peak RSS from time(1).
// Needs the harness's cached test images (npm run test:images) and docker-registry, skopeo, umoci.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt("--runs", "5")) || 5;
const bigMb = Number(opt("--big-mb", "256")) || 256;
const jsonOut = opt("--json", undefined);
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "bin/ocipatch");
const cache = process.env.OCIPATCH_TEST_CACHE || "/var/cache/ocipatch-test";
const work = mkdtempSync(join(tmpdir(), "ocipatch-bench-copy-"));
const registries = [];

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

// ------------------------------------------------------------------ registries

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRegistry(label) {
  const dir = mkdtempSync(join(work, `reg-${label}-`));
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n` +
      `  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const fd = openSync(join(dir, "registry.log"), "a");
  const proc = spawn("/usr/bin/docker-registry", ["serve", config], { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`http://${host}/v2/`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  const reg = {
    host,
    dir,
    async stop() {
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await done;
      }
      rmSync(dir, { recursive: true, force: true });
      registries.splice(registries.indexOf(reg), 1);
    },
  };
  registries.push(reg);
  return reg;
}

// ------------------------------------------------------------------ images

/** The newest cached OCI layout of a harness image. */
function harnessImage(name) {
  const dir = join(cache, "images");
  const found = existsSync(dir)
    ? readdirSync(dir)
        .filter((d) => d.startsWith(`${name}-`) && existsSync(join(dir, d, "image.json")))
        .map((d) => join(dir, d))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    : [];
  if (found.length === 0) throw new Error(`test image ${name} is not cached; run npm run test:images`);
  const meta = JSON.parse(readFileSync(join(found[0], "image.json"), "utf8"));
  return { name, ociRef: meta.ociRef, digest: meta.digest };
}

function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** An OCI layout with one incompressible layer of `mb` MiB (gzip -1 of random bytes). */
async function bigImage(mb) {
  const dir = join(work, "big");
  const blobs = join(dir, "layout/blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  mkdirSync(join(dir, "root"));
  execFileSync("head", ["-c", `${mb}M`, "/dev/urandom"], {
    stdio: ["ignore", openSync(join(dir, "root/random.bin"), "w"), "inherit"],
  });
  execFileSync("tar", [
    "-C",
    join(dir, "root"),
    "--owner=0",
    "--group=0",
    "--mtime=@0",
    "-cf",
    join(dir, "layer.tar"),
    "random.bin",
  ]);
  const diffId = await sha256File(join(dir, "layer.tar"));
  execFileSync("gzip", ["-1", "-n", join(dir, "layer.tar")]);
  const layerHex = await sha256File(join(dir, "layer.tar.gz"));
  execFileSync("mv", [join(dir, "layer.tar.gz"), join(blobs, layerHex)]);
  const put = (obj) => {
    const b = Buffer.from(JSON.stringify(obj));
    const hex = createHash("sha256").update(b).digest("hex");
    writeFileSync(join(blobs, hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const config = put({
    architecture: "amd64",
    os: "linux",
    created: "2024-01-01T00:00:00Z",
    config: { Cmd: ["/bin/true"] },
    rootfs: { type: "layers", diff_ids: [`sha256:${diffId}`] },
    history: [{ created: "2024-01-01T00:00:00Z", created_by: "bench" }],
  });
  const manifest = put({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: `sha256:${layerHex}`,
        size: statSync(join(blobs, layerHex)).size,
      },
    ],
  });
  writeFileSync(join(dir, "layout/oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "layout/index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "big" },
        },
      ],
    }),
  );
  rmSync(join(dir, "root"), { recursive: true });
  return { name: `big-${mb}mib`, ociRef: `oci:${join(dir, "layout")}:big`, digest: manifest.digest };
}

/** Bytes of everything the image references (manifests, configs, layers), read from its layout. */
function imageBytes(ociRef) {
  const [, dir, tag] = /^oci:(.*):([^:]+)$/.exec(ociRef);
  const blob = (d) => JSON.parse(readFileSync(join(dir, "blobs", ...d.split(":")), "utf8"));
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
  const top = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  let total = 0;
  const walk = (desc) => {
    total += desc.size;
    const doc = blob(desc.digest);
    if (doc.manifests) for (const m of doc.manifests) walk(m);
    else for (const d of [doc.config, ...doc.layers]) total += d.size;
  };
  walk(top);
  return total;
}

// ------------------------------------------------------------------ measuring

/** Run one command under /usr/bin/time -v; wall seconds and peak RSS (MiB). */
function measure(cmd, cmdArgs) {
  const timeFile = join(work, "time.txt");
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-v", "-o", timeFile, cmd, ...cmdArgs], { encoding: "utf8" });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(" ")} failed (${r.status}): ${r.stderr}`);
  const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(timeFile, "utf8"))?.[1]);
  return { wall, rssMiB: kb / 1024 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function copyCommand(tool, image, src, dst) {
  if (tool === "ocipatch") return [process.execPath, [BIN, "copy", "-q", src, dst]];
  const all = image.name.startsWith("multiarch") ? ["--all"] : [];
  return [
    "skopeo",
    [
      "copy",
      "-q",
      "--insecure-policy",
      "--src-tls-verify=false",
      "--dest-tls-verify=false",
      "--preserve-digests",
      ...all,
      src,
      dst,
    ],
  ];
}

// ------------------------------------------------------------------ main

let seq = 0;
const results = [];
try {
  if (!existsSync(join(ROOT, "dist/cli-bundle/main.cjs"))) throw new Error("run npm run build first");
  const regA = await startRegistry("A");
  const images = [harnessImage("nginx-bookworm"), harnessImage("multiarch-bookworm"), await bigImage(bigMb)];
  for (const img of images) {
    img.bytes = imageBytes(img.ociRef);
    img.src = `docker://${regA.host}/src/${img.name}:v1`;
    execFileSync("skopeo", [
      "copy",
      "-q",
      "--insecure-policy",
      "--dest-tls-verify=false",
      "--all",
      "--preserve-digests",
      img.ociRef,
      img.src,
    ]);
    log(`pushed ${img.name} (${(img.bytes / 2 ** 20).toFixed(1)} MiB) to ${img.src}`);
  }
  const scenarios = {
    "same-registry": async () => ({ dst: `docker://${regA.host}/dst/r${++seq}:v1`, done: async () => {} }),
    "other-registry": async () => {
      const regB = await startRegistry("B");
      return { dst: `docker://${regB.host}/dst/r${++seq}:v1`, done: () => regB.stop() };
    },
    oci: async () => {
      const dir = join(work, `oci-${++seq}`);
      return { dst: `oci:${dir}:t`, done: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  };
  for (const img of images) {
    for (const [scenario, target] of Object.entries(scenarios)) {
      const samples = { ocipatch: [], skopeo: [] };
      for (let i = 0; i < runs; i++) {
        // alternate who goes first, so neither tool always gets the warmer page cache
        const order = i % 2 === 0 ? ["ocipatch", "skopeo"] : ["skopeo", "ocipatch"];
        for (const tool of order) {
          const { dst, done } = await target();
          const [cmd, cmdArgs] = copyCommand(tool, img, img.src, dst);
          try {
            samples[tool].push(measure(cmd, cmdArgs));
          } finally {
            await done();
          }
        }
      }
      const row = {
        image: img.name,
        bytes: img.bytes,
        scenario,
        runs,
        ocipatch: {
          wall: median(samples.ocipatch.map((s) => s.wall)),
          rssMiB: Math.max(...samples.ocipatch.map((s) => s.rssMiB)),
        },
        skopeo: {
          wall: median(samples.skopeo.map((s) => s.wall)),
          rssMiB: Math.max(...samples.skopeo.map((s) => s.rssMiB)),
        },
        samples,
      };
      row.ratio = row.ocipatch.wall / row.skopeo.wall;
      results.push(row);
      log(
        `${img.name.padEnd(20)} ${scenario.padEnd(15)} ocipatch ${row.ocipatch.wall.toFixed(2)} s ` +
          `(${row.ocipatch.rssMiB.toFixed(0)} MiB)  skopeo ${row.skopeo.wall.toFixed(2)} s ` +
          `(${row.skopeo.rssMiB.toFixed(0)} MiB)  ratio ${row.ratio.toFixed(2)}`,
      );
    }
  }
} finally {
  for (const r of [...registries]) await r.stop();
  rmSync(work, { recursive: true, force: true });
}

// markdown table for docs/BENCHMARKS.md
const lines = [
  "| image | MiB | scenario | ocipatch median | skopeo median | ratio | ocipatch peak RSS | skopeo peak RSS |",
  "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
  ...results.map(
    (r) =>
      `| ${r.image} | ${(r.bytes / 2 ** 20).toFixed(1)} | ${r.scenario} | ${r.ocipatch.wall.toFixed(2)} s | ${r.skopeo.wall.toFixed(2)} s | ${r.ratio.toFixed(2)}× | ${r.ocipatch.rssMiB.toFixed(0)} MiB | ${r.skopeo.rssMiB.toFixed(0)} MiB |`,
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ runs, bigMb, results }, null, 2));
