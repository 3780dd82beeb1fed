/**
 * The cache of built patch layers (issue 13 §1, warm runs): a second `ocipatch patch` of the same
 * image with the same repository state takes the layer the first run built — nothing downloaded,
 * nothing built — and writes the same image layers and the same re-scan. Other inputs (another
 * compression), `--no-layer-cache` and a damaged entry build again. The real CLI (bin/ocipatch,
 * the bundle) runs; skopeo reads the results.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";

const anon = inject("registry");
const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

interface Platform {
  after: { total: number; fixable: number };
  packages: { name: string }[];
  maintainerEffects: unknown[];
  layer: { digest: string; diffId: string; fromCache: boolean };
  download: { packageBytes: number; fromCache: number; files: number };
}

async function layersOf(ref: string): Promise<{ layers: string[]; mediaTypes: string[] }> {
  const raw = JSON.parse((await run("skopeo", ["inspect", "--raw", ref])).stdout) as {
    layers: { digest: string; mediaType: string }[];
  };
  return { layers: raw.layers.map((l) => l.digest), mediaTypes: raw.layers.map((l) => l.mediaType) };
}

describe("the layer cache", () => {
  let dbDir: string;
  let ref: string;
  let dir: string;
  beforeAll(async () => {
    await ensureBuilt();
    dbDir = await trackerDb();
    ref = (
      await pushImage(await ensureImage("nginx-bullseye"), anon.host, `layer-cache/nginx-${process.pid}:1`)
    ).ref;
    dir = makeTempDir("patch-layer-cache");
    work.push(dir);
  }, 600_000);

  const cache = () => join(dir, "cache");
  const patch = (out: string, ...extra: string[]) => patchWith({}, out, ...extra);
  const patchWith = async (env: NodeJS.ProcessEnv, out: string, ...extra: string[]) => {
    const r = await runBin(
      [
        "patch",
        "-i",
        ref,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--no-referrers",
        "--dest",
        `oci:${join(dir, out)}:p`,
        "--format",
        "json",
        ...extra,
      ],
      {
        PATH: process.env["PATH"],
        HOME: process.env["HOME"],
        CI: "true",
        OCIPATCH_CACHE_DIR: cache(),
        ...env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const platform = (JSON.parse(r.stdout) as { platforms: Platform[] }).platforms[0]!;
    return { stderr: r.stderr, platform, image: await layersOf(`oci:${join(dir, out)}:p`) };
  };
  const entries = () =>
    readdirSync(join(cache(), "layers")).filter((n) => /^[0-9a-f]{12}-[0-9a-f]{64}$/.test(n));

  it("a second run takes the first run's layer: no package downloaded, nothing built, the same result", async () => {
    const cold = await patch("cold");
    expect(cold.stderr).toMatch(/building the patch layer/);
    expect(cold.platform.layer.fromCache).toBe(false);
    expect(cold.platform.packages.length).toBeGreaterThan(10);
    expect(entries()).toHaveLength(1);

    // without the package files: a warm run that needed them would download them again
    await rm(join(cache(), "debs"), { recursive: true, force: true });
    const warm = await patch("warm");
    expect(warm.stderr).toMatch(/taken from the layer cache/);
    expect(warm.stderr).not.toMatch(/downloading|building the patch layer/i);
    expect(existsSync(join(cache(), "debs"))).toBe(false);
    expect(warm.platform.layer).toEqual({ ...cold.platform.layer, fromCache: true });
    expect(warm.image.layers).toEqual(cold.image.layers);
    // the re-scan, the packages and the report of what the scripts would have done: as built
    expect(warm.platform.after).toEqual(cold.platform.after);
    expect(warm.platform.packages).toEqual(cold.platform.packages);
    expect(warm.platform.maintainerEffects).toEqual(cold.platform.maintainerEffects);
    expect(warm.platform.download).toMatchObject({ packageBytes: 0, fromCache: 0, files: 0 });
    // the entry kept the layer's package records: the re-scan needed no layer read
    const stored = JSON.parse(readFileSync(join(cache(), "layers", entries()[0]!, "entry.json"), "utf8")) as {
      installed: { name: string }[] | null;
    };
    const names = (ps: { name: string }[]) => ps.map((p) => p.name).sort();
    expect(names(stored.installed ?? [])).toEqual(names(cold.platform.packages));
  }, 600_000);

  it("builds again for other inputs, with --no-layer-cache, and for a damaged entry", async () => {
    const first = await layersOf(`oci:${join(dir, "cold")}:p`);

    // another compression is another layer: a zstd one, stored beside the gzip one
    const zstd = await patch("zstd", "--compression", "zstd");
    expect(zstd.stderr).toMatch(/building the patch layer/);
    expect(zstd.image.mediaTypes.at(-1)).toBe("application/vnd.oci.image.layer.v1.tar+zstd");
    expect(entries()).toHaveLength(2);

    const again = await patch("nocache", "--no-layer-cache");
    expect(again.stderr).toMatch(/building the patch layer/);
    expect(again.image.layers).toEqual(first.layers);

    // a blob that no longer matches its digest: dropped with a warning, the layer built and stored again
    for (const e of entries()) {
      const blob = join(cache(), "layers", e, "layer");
      const bytes = readFileSync(blob);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x55;
      writeFileSync(blob, bytes);
    }
    const damaged = await patch("damaged");
    expect(damaged.stderr).toMatch(
      /cached patch layer was not used: its layer does not match its digest; removed/,
    );
    expect(damaged.stderr).toMatch(/building the patch layer/);
    expect(damaged.image.layers).toEqual(first.layers);
    const healed = await patch("healed");
    expect(healed.stderr).toMatch(/taken from the layer cache/);
    expect(healed.image.layers).toEqual(first.layers);
  }, 900_000);

  it("OCIPATCH_LAYER_CACHE_SIZE: a layer over the limit is not kept, 0 keeps none, a wrong size is one usage line", async () => {
    const small = join(dir, "small-cache");
    const over = await patchWith({ OCIPATCH_CACHE_DIR: small, OCIPATCH_LAYER_CACHE_SIZE: "1MB" }, "small");
    expect(over.stderr).toMatch(/building the patch layer/);
    expect(over.platform.layer.fromCache).toBe(false);
    // stored, then removed as the least recently used past the limit: nothing but the lock is left
    expect(readdirSync(join(small, "layers")).filter((n) => !n.startsWith("."))).toEqual([]);

    const none = join(dir, "no-cache");
    const off = await patchWith({ OCIPATCH_CACHE_DIR: none, OCIPATCH_LAYER_CACHE_SIZE: "0" }, "off");
    expect(off.stderr).toMatch(/building the patch layer/);
    expect(existsSync(join(none, "layers"))).toBe(false);

    const r = await runBin(["patch", "-i", ref, "--dest", `oci:${join(dir, "bad")}:p`], {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      CI: "true",
      OCIPATCH_CACHE_DIR: cache(),
      OCIPATCH_LAYER_CACHE_SIZE: "lots",
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([
      '[error] OCIPATCH_LAYER_CACHE_SIZE must be a size such as 2GiB, 500MB or 0 (no cache), not "lots"',
    ]);
    expect(existsSync(join(dir, "bad"))).toBe(false);
  }, 900_000);
});
