/**
 * Shared work of a fleet run (issue 13 §3): images that share a base, each with its own top layer,
 * patched at the same time. The target registry's log is the oracle: every shared blob (the base
 * layers, the identical patch layer) is uploaded once and mounted into the other repositories.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FleetImageResult } from "../../src/fleet/summary.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { SharedBuilds } from "../../src/patch/shared-builds.js";
import { openDatabaseForScan } from "../../src/vulndb/index.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { imageWithFileLayers } from "../harness/hostile-image.js";
import { ensureImage } from "../harness/images.js";
import { OCIPATCH_CACHE, runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";
import { registryLog, startRegistry, type TestRegistry } from "../harness/registry.js";

const anon = inject("registry");
const work: string[] = [];
let target: TestRegistry | undefined;
afterAll(async () => {
  await target?.stop();
  for (const d of work) await rm(d, { recursive: true, force: true });
});

/** Finished blob uploads (the PUT closing an upload session) per digest, and mounts (201 POST ?mount=). */
function transfers(log: string) {
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

describe("fleet: shared work", () => {
  const sources: string[] = [];
  let dbDir: string;
  beforeAll(async () => {
    dbDir = await trackerDb();
    const base = await ensureImage("nginx-bullseye");
    const dir = makeTempDir("fleet-shared");
    work.push(dir);
    const repo = `fleet-shared/${process.pid}-${Date.now()}`;
    for (let i = 0; i < 3; i++) {
      const ref = await imageWithFileLayers(
        base,
        join(dir, `layout-${i}`),
        [{ name: `srv/app-${i}/data`, bytes: 64 * 1024, fill: "random" }],
        "1.0",
      );
      sources.push((await pushImage({ ociRef: ref }, anon.host, `${repo}/app-${i}:1.0`)).ref);
    }
    target = await startRegistry();
  }, 900_000);

  it("uploads each shared blob once to the target registry and mounts it into the other repositories", async () => {
    const dir = makeTempDir("fleet-shared-config");
    work.push(dir);
    const config = join(dir, "fleet.yaml");
    writeFileSync(
      config,
      `apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: ${target!.host}/patched
images:
${sources
  .map((s, i) => {
    const repo = s.slice(0, s.lastIndexOf(":"));
    return `  - name: app-${i}\n    image: ${repo}\n    tags:\n      strategy: list\n      list: ["1.0"]\n`;
  })
  .join("")}`,
    );
    const r = await runCli([
      "patch",
      "--config",
      config,
      "--push",
      "--jobs",
      "3",
      "--all",
      "--format",
      "json",
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--no-referrers",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as FleetImageResult[];
    expect(results.map((x) => x.status)).toEqual(["patched", "patched", "patched"]);

    const layers = [];
    for (const x of results) {
      const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", `docker://${x.destination}`]);
      layers.push((JSON.parse(stdout) as { Layers: string[] }).Layers);
    }
    // base layers + own top layer + the patch layer, identical for the three images
    for (const l of layers) expect(l).toHaveLength(4);
    const patchLayer = layers[0]![3]!;
    expect(layers.map((l) => l[3])).toEqual([patchLayer, patchLayer, patchLayer]);
    const shared = [layers[0]![0]!, layers[0]![1]!, patchLayer];

    const { uploads, mounts } = transfers(registryLog(target!));
    for (const d of shared) {
      expect(uploads.get(d), `uploads of ${d}`).toBe(1);
      expect(mounts.get(d), `mounts of ${d}`).toBe(2);
    }
    // each image's own top layer is its own upload
    for (const l of layers) expect(uploads.get(l[2]!)).toBe(1);
  }, 1_800_000);

  it("builds a patch layer once for images whose own layers hold nothing the build read, again for one that does", async () => {
    const base = await ensureImage("nginx-bullseye");
    const dir = makeTempDir("fleet-shared-builds");
    work.push(dir);
    const image = (name: string, file: string) =>
      imageWithFileLayers(base, join(dir, name), [{ name: file, bytes: 4096, fill: "random" }], "1.0");
    const sources = {
      u1: await image("u1", "srv/one/data"),
      u2: await image("u2", "opt/two/data"),
      // the build lists the dpkg info directory: a file there could change the layer
      d: await image("d", "var/lib/dpkg/info/fleet-note.txt"),
    };
    const { db } = await openDatabaseForScan({ dbDir, offline: true });
    const shared = new SharedBuilds(mkdtempSync(join(dir, "shared-")));
    try {
      const results = await Promise.all(
        Object.entries(sources).map(async ([name, source]) => {
          const workDir = mkdtempSync(join(dir, `run-${name}-`));
          const r = await patchImage({
            source,
            destination: `oci:${join(dir, `out-${name}`)}:p`,
            mode: "all",
            db,
            repositories: { cacheDir: join(OCIPATCH_CACHE, "apt") },
            packageCacheDir: join(OCIPATCH_CACHE, "debs"),
            workDir,
            sharedBuilds: shared,
          });
          await rm(workDir, { recursive: true, force: true });
          return [name, r.platforms[0]!] as const;
        }),
      );
      const by = Object.fromEntries(results);
      for (const p of results.map(([, p]) => p)) expect(p.status).toBe("patched");
      // whatever order they ran in: one of u1/u2 reuses the other's layer; d builds its own
      expect([by["u1"]!.layerReused ?? false, by["u2"]!.layerReused ?? false].sort()).toEqual([false, true]);
      expect(by["d"]!.layerReused ?? false).toBe(false);
      // the layers are the same bytes (reproducible builds), and the written images hold them
      const digest = by["u1"]!.built!.layer.digest;
      for (const p of results.map(([, p]) => p)) expect(p.built!.layer.digest).toBe(digest);
      for (const name of Object.keys(sources)) {
        const { stdout } = await run("skopeo", ["inspect", `oci:${join(dir, `out-${name}`)}:p`]);
        expect((JSON.parse(stdout) as { Layers: string[] }).Layers.at(-1)).toBe(digest);
      }
    } finally {
      db.close();
    }
  }, 1_800_000);
});
