/**
 * Reproducible patch layers (issue 13 §2): the same image and the same repository state give the
 * same patch layer, byte for byte, whatever the cache directory, the time of the run and the
 * decoders (the host's liblzma or the bundled one) — with gzip deflated on several cores. skopeo
 * reads the results.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { OCIPATCH_CACHE, runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";

const anon = inject("registry");
const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

interface Layout {
  layers: string[];
  diffIds: string[];
  created: string | undefined;
}

/** The layers (skopeo's view) and diffIDs of an OCI layout's image. */
async function inspect(ref: string): Promise<Layout> {
  const { stdout } = await run("skopeo", ["inspect", ref]);
  const { stdout: cfg } = await run("skopeo", ["inspect", "--config", ref]);
  const c = JSON.parse(cfg) as { created?: string; rootfs: { diff_ids: string[] } };
  return {
    layers: (JSON.parse(stdout) as { Layers: string[] }).Layers,
    diffIds: c.rootfs.diff_ids,
    created: c.created,
  };
}

describe("reproducible patch layers", () => {
  let dbDir: string;
  let ref: string;
  beforeAll(async () => {
    await ensureBuilt();
    dbDir = await trackerDb();
    ref = (await pushImage(await ensureImage("nginx-bullseye"), anon.host, `repro/nginx-${process.pid}:1`))
      .ref;
  }, 600_000);

  it("two runs with different cache directories, at different times, give the same layer digest", async () => {
    const dir = makeTempDir("patch-repro");
    work.push(dir);
    /** In this process, or with `env` as the bundled CLI in a process of its own (`process.env` is its). */
    const patch = async (cache: string, out: string, env?: Record<string, string>) => {
      const argv = [
        "patch",
        "-i",
        ref,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--dest",
        `oci:${join(dir, out)}:p`,
      ];
      const r =
        env === undefined
          ? await runCli(argv, { OCIPATCH_CACHE_DIR: cache })
          : await runBin(argv, { ...process.env, CI: "true", OCIPATCH_CACHE_DIR: cache, ...env });
      expect(r.code, r.stderr).toBe(0);
      return { ...(await inspect(`oci:${join(dir, out)}:p`)), stderr: r.stderr };
    };
    // a fresh, empty cache (indices and packages downloaded again), then the tests' shared cache
    const started = Date.now();
    const a = await patch(join(dir, "cache-a"), "a");
    await new Promise((r) => setTimeout(r, 2100));
    const b = await patch(OCIPATCH_CACHE, "b");
    // the bundled CLI with the bundled decoders (lzma-native, fzstd), not the host's libraries, a fresh cache
    const c = await patch(join(dir, "cache-c"), "c", {
      OCIPATCH_NO_HOST_LIBLZMA: "1",
      OCIPATCH_NO_HOST_LIBZSTD: "1",
      OCIPATCH_DEBUG: "1",
    });

    expect(a.layers.length).toBeGreaterThan(1);
    expect(b.layers.at(-1)).toBe(a.layers.at(-1));
    expect(b.diffIds.at(-1)).toBe(a.diffIds.at(-1));
    expect(b.layers).toEqual(a.layers);
    expect(c.layers).toEqual(a.layers);
    expect(c.stderr).toContain("[debug] decoders: xz by lzma-native (bundled); zstd by fzstd (bundled)");
    expect(a.stderr).not.toContain("[debug]");
    // the runs did happen at different times: the configs say so, the layers do not
    expect(b.created).not.toBe(a.created);

    // the layer is a gzip stream whose members gzip -d reads whole, and its diffID is right
    const blob = join(dir, "a", "blobs", "sha256", a.layers.at(-1)!.replace("sha256:", ""));
    const { stdout } = await run("sh", ["-c", `gzip -dc '${blob}' | sha256sum`]);
    expect(`sha256:${stdout.split(" ")[0]}`).toBe(a.diffIds.at(-1));
    // no host time leaks: every entry is dated before the runs began (the packages' build time)
    const { stdout: listing } = await run("sh", [
      "-c",
      `gzip -dc '${blob}' | TZ=UTC tar -tv --numeric-owner --full-time`,
    ]);
    const times = [...listing.matchAll(/ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) /g)].map((m) =>
      Date.parse(`${m[1]!.replace(" ", "T")}Z`),
    );
    expect(times.length).toBeGreaterThan(100);
    expect(Math.max(...times)).toBeLessThan(started);
    // and no host owner: everything is root's or the image's own users'
    expect(listing).not.toMatch(new RegExp(` ${process.getuid?.() || 99999}/`));
  }, 900_000);
});
