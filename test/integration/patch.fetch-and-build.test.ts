/**
 * The layer is built while the packages download (issue 13 §1: overlap the stages). Real
 * bookworm-security .debs served from loopback, the real dpkg backend building against the
 * debian-bookworm test image. ORACLE for the result: the same packages built the usual way, after
 * every file is there (`buildPatchLayer` on the files), give the same layer bytes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { dpkgPatcher } from "../../src/backends/dpkg/patcher.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import { isOcipatchError } from "../../src/errors.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import type { Inventory } from "../../src/inventory/types.js";
import { fetchAndBuild } from "../../src/patch/fetch-and-build.js";
import type { PatchLog } from "../../src/patch/patch-image.js";
import type { WantedPackage } from "../../src/patch/wanted.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { type CachedDeb, debianDeb } from "../harness/debian-packages.js";
import { ensureImage } from "../harness/images.js";
import { emptyPlan } from "../harness/plans.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-fetch-build-"));
let fs: LayeredFs;
let inventory: Inventory;
let manifestMediaType: string;
afterAll(async () => {
  await fs?.close();
  rmSync(work, { recursive: true, force: true });
});

// perl-base first: large enough that the layer file has bytes while the last one is held back
const NAMES = ["perl-base", "libpam0g", "zlib1g", "libpam-modules-bin"];
let debs: CachedDeb[];

beforeAll(async () => {
  const img = await ensureImage("debian-bookworm");
  const image = await openImage(img.ociRef);
  manifestMediaType = image.mediaType;
  fs = await LayeredFs.open(image, { scratchDir: work, ...backendViewOptions() });
  inventory = await readInventoryFromFs(fs);
  debs = NAMES.map((n) => debianDeb("bookworm-security", n));
}, 600_000);

/** A loopback pool/ whose answer for one .deb waits until `hold` lets it go (or the client leaves). */
async function poolServer(hold: { name: string; until: () => Promise<void> }) {
  const seen = { heldClosedByClient: false, heldServed: false };
  const server = createServer(async (req, res: ServerResponse) => {
    const deb = debs.find((d) => req.url === `/pool/${d.name}.deb`);
    if (!deb) return void res.writeHead(404).end();
    const body = readFileSync(deb.path);
    if (deb.name === hold.name) {
      res.on("close", () => {
        if (!res.writableFinished) seen.heldClosedByClient = true;
      });
      await hold.until();
      if (res.destroyed) return;
      seen.heldServed = true;
    }
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function wantedFrom(url: string, rename: Record<string, string> = {}): WantedPackage[] {
  return debs.map((d) => {
    const installed = inventory.packages.find((p) => p.name === d.name);
    if (!installed) throw new Error(`${d.name} is not installed in debian-bookworm`);
    return {
      item: {
        package: rename[d.name] ?? d.name,
        architecture: installed.architecture,
        version: d.version,
        url: `${url}/pool/${d.name}.deb`,
        sha256: d.sha256,
        size: d.size,
      },
      // a package under another name is new to the image
      installed: rename[d.name] === undefined ? installed : undefined,
      replaces: [],
    };
  });
}

const plan = emptyPlan();

/** Bytes of the layer file being written under `dir` (0 while there is none). */
function layerBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const d of readdirSync(dir)) {
    const f = join(dir, d, "layer.tar");
    if (d.startsWith("layer-") && existsSync(f)) n += statSync(f).size;
  }
  return n;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** fetchAndBuild of `wanted` into `dir`'s work and package cache directories, two downloads at a time. */
async function fetchAndBuildIn(dir: string, wanted: WantedPackage[], log: PatchLog) {
  const workDir = join(dir, "work");
  await mkdir(workDir, { recursive: true });
  const target = {
    platformName: "linux/amd64",
    fs,
    platform: { os: "linux", architecture: "amd64" },
    inventory,
    manifestMediaType,
  };
  const opts = {
    workDir,
    packageCacheDir: join(dir, "debs"),
    compression: "gzip" as const,
    downloadConcurrency: 2,
  };
  return fetchAndBuild(dpkgPatcher, target, plan, wanted, opts, log);
}

describe("fetchAndBuild", () => {
  it("writes the first packages into the layer while the last one still downloads; same bytes as building after", async () => {
    const dir = mkdtempSync(join(work, "overlap-"));
    const workDir = join(dir, "work");
    let bytesWhileHeld = 0;
    const server = await poolServer({
      name: NAMES[NAMES.length - 1]!,
      until: async () => {
        await until(() => layerBytes(workDir) > 0, 30_000);
        bytesWhileHeld = layerBytes(workDir);
      },
    });
    try {
      const lines: string[] = [];
      const log = { info: (m: string) => lines.push(m), success() {}, warning: (m: string) => lines.push(m) };
      const got = await fetchAndBuildIn(dir, wantedFrom(server.url), log);
      expect(server.seen.heldServed).toBe(true);
      // the layer had bytes before the last package was sent
      expect(bytesWhileHeld).toBeGreaterThan(0);
      expect(got.account).toEqual({
        bytes: debs.reduce((n, d) => n + d.size, 0),
        fromCache: 0,
        files: debs.length,
      });
      expect(got.layer!.packages.map((p) => p.package)).toEqual(NAMES);
      expect(lines.filter((l) => l.includes("building the patch layer"))).toEqual([
        `linux/amd64: building the patch layer (${NAMES.length} packages)...`,
      ]);

      const after = await buildPatchLayer({
        fs,
        inventory,
        packages: debs.map((d) => ({
          package: d.name,
          architecture: inventory.packages.find((p) => p.name === d.name)!.architecture,
          path: d.path,
          installed: inventory.packages.find((p) => p.name === d.name),
        })),
        compression: "gzip",
        layerPath: join(dir, "after.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType,
      });
      expect(got.layer!.layer.diffId).toBe(after.layer.diffId);
      expect(got.layer!.layer.digest).toBe(after.layer.digest);
    } finally {
      await server.close();
    }
  }, 300_000);

  it("a build that fails stops the downloads, and its error is the one reported", async () => {
    const dir = mkdtempSync(join(work, "fails-"));
    // the last .deb is never sent unless the client gives up on it
    const server = await poolServer({ name: NAMES[NAMES.length - 1]!, until: () => new Promise(() => {}) });
    try {
      const log = { info() {}, success() {}, warning() {} };
      // the first file is perl-base, the plan said "perl": the build refuses it
      const e = await fetchAndBuildIn(dir, wantedFrom(server.url, { "perl-base": "perl" }), log).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isOcipatchError(e, "INVALID_FORMAT"), String(e)).toBe(true);
      expect((e as Error).message).toMatch(/the package is perl-base:amd64 \S+, expected perl:amd64/);
      // the held download was given up, not waited for
      expect(await until(() => server.seen.heldClosedByClient, 10_000)).toBe(true);
      expect(server.seen.heldServed).toBe(false);
      // nothing half-downloaded is left in the cache
      expect(readdirSync(join(dir, "debs")).filter((f) => f.endsWith(".part"))).toEqual([]);
    } finally {
      await server.close();
    }
  }, 300_000);
});
