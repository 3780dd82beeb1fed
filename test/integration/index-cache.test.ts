/**
 * The index cache (issue 13 §1, warm runs): an image layer indexed by an earlier `scan` or
 * `patch` (same diffID, same ocipatch build) is not read again. Proven with the real CLI: a scan
 * of an OCI layout whose layer blobs were then damaged still gives the same result from the cache
 * (and fails, naming the digest, without it: OCIPATCH_INDEX_CACHE_SIZE=0 or `--no-layer-cache`); a second patch pushed to the registry fetches no
 * layer blob of the image (the registry's access log).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { makeTempDir } from "../harness/fs.js";
import { copyImageLayout, ensureImage } from "../harness/images.js";
import { trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";
import { registryLog } from "../harness/registry.js";

const anon = inject("registry");
const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

describe("the index cache", () => {
  let dbDir: string;
  let dir: string;
  beforeAll(async () => {
    await ensureBuilt();
    dbDir = await trackerDb();
    dir = makeTempDir("index-cache");
    work.push(dir);
  }, 600_000);

  const env = (cache: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    CI: "true",
    OCIPATCH_CACHE_DIR: cache,
    ...extra,
  });

  it("scan: a layer indexed before is not read (its blob may even be damaged since)", async () => {
    const ref = await copyImageLayout(await ensureImage("nginx-bullseye"), join(dir, "layout"));
    const cache = join(dir, "scan-cache");
    const scan = (extra: NodeJS.ProcessEnv = {}) =>
      runBin(
        ["scan", "-i", ref, "--db-dir", dbDir, "--skip-db-update", "--format", "json"],
        env(cache, extra),
      );
    const findings = (stdout: string) => {
      const doc = JSON.parse(stdout) as { summary: unknown; findings: { id: string; package: string }[] };
      return { summary: doc.summary, findings: doc.findings.map((f) => `${f.id} ${f.package}`).sort() };
    };
    const cold = await scan();
    expect(cold.code, cold.stderr).toBe(0);
    const entries = readdirSync(join(cache, "layer-index")).filter((n) => n.endsWith(".idx"));
    expect(entries).toHaveLength(2);

    // every layer blob of the layout damaged in its middle (manifest and config untouched)
    for (const digest of layerDigests(join(dir, "layout"))) {
      const f = join(dir, "layout/blobs/sha256", digest.slice("sha256:".length));
      const bytes = readFileSync(f);
      bytes[bytes.length >> 1]! ^= 0x55;
      writeFileSync(f, bytes);
    }
    const warm = await scan();
    expect(warm.code, warm.stderr).toBe(0);
    expect(findings(warm.stdout)).toEqual(findings(cold.stdout));
    expect(findings(cold.stdout).findings.length).toBeGreaterThan(10);

    // without the cache the layers are read, and the damage is found
    const off = await scan({ OCIPATCH_INDEX_CACHE_SIZE: "0" });
    expect(off.code).not.toBe(0);
    expect(off.stderr).toMatch(/digest|does not match/i);
    // the same with the flag, for scan and sbom; sbom still takes the cache without it
    const flag = await runBin(
      ["scan", "-i", ref, "--db-dir", dbDir, "--skip-db-update", "--no-layer-cache"],
      env(cache),
    );
    expect({ code: flag.code, stderr: flag.stderr }).toEqual({ code: off.code, stderr: off.stderr });
    const sbom = (...extra: string[]) => runBin(["sbom", "-i", ref, "-f", "cyclonedx", ...extra], env(cache));
    const sbomCached = await sbom();
    expect(sbomCached.code, sbomCached.stderr).toBe(0);
    const sbomRead = await sbom("--no-layer-cache");
    expect(sbomRead.code).toBe(off.code);
    expect(sbomRead.stderr).toMatch(/digest|does not match/i);
  }, 600_000);

  it("patch: a second run to the same registry fetches no layer blob of the image, also to build the layer again; --no-layer-cache reads them", async () => {
    const repo = `index-cache/nginx-${process.pid}`;
    const image = await ensureImage("nginx-bullseye");
    const ref = (await pushImage(image, anon.host, `${repo}:1`)).ref;
    const layers = layerDigests(image.layoutDir);
    expect(layers).toHaveLength(2);
    const cache = join(dir, "patch-cache");
    // GETs of the image's layer blobs (the config is a blob too, and is read every run)
    const blobGets = () =>
      [...registryLog(anon as never).matchAll(/"GET \/v2\/([^ ]+)\/blobs\/(sha256:[0-9a-f]{64})/g)].filter(
        (m) => m[1] === repo && layers.includes(m[2]!),
      ).length;
    const patch = async (tag: string, ...extra: string[]) => {
      const before = blobGets();
      const r = await runBin(
        [
          "patch",
          "-i",
          ref,
          "-t",
          tag,
          "--push",
          "--db-dir",
          dbDir,
          "--skip-db-update",
          "--no-referrers",
          "--format",
          "json",
          ...extra,
        ],
        env(cache),
      );
      expect(r.code, r.stderr).toBe(0);
      const p = (JSON.parse(r.stdout) as { platforms: { after: unknown; layer: { digest: string } }[] })
        .platforms[0]!;
      return { gets: blobGets() - before, after: p.after, layer: p.layer.digest, stderr: r.stderr };
    };
    const cold = await patch("cold");
    expect(cold.gets).toBe(2); // the image's two layers, read once
    const warm = await patch("warm");
    expect(warm.stderr).toMatch(/taken from the layer cache/);
    expect(warm.gets).toBe(0);
    expect(warm.after).toEqual(cold.after);
    expect(warm.layer).toBe(cold.layer);
    // the layer built again (the layer cache emptied) from the stored indexes alone: the build's
    // captured files and ldconfig summaries came from the cache, and the layer is the same
    await rm(join(cache, "layers"), { recursive: true, force: true });
    const rebuilt = await patch("rebuilt");
    expect(rebuilt.stderr).toMatch(/building the patch layer/);
    expect(rebuilt.gets).toBe(0);
    expect(rebuilt.layer).toBe(cold.layer);
    expect(rebuilt.after).toEqual(cold.after);
    const again = await patch("nocache", "--no-layer-cache");
    expect(again.gets).toBe(2);
    expect(again.layer).toBe(cold.layer);
  }, 900_000);
});

/** The layer digests of the image the layout's only tag points at. */
function layerDigests(layout: string): string[] {
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string }[];
  };
  const manifest = JSON.parse(
    readFileSync(join(layout, "blobs/sha256", index.manifests[0]!.digest.slice("sha256:".length)), "utf8"),
  ) as { layers: { digest: string }[] };
  return manifest.layers.map((l) => l.digest);
}
