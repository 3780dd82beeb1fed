/**
 * planForImage end to end against the real mirror: where repositories come from (image,
 * mirror configuration, host fallback), what is downloaded, and how bad input is refused.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet, newStats } from "../../src/backends/dpkg/apt/http.js";
import { type PlanForImageInput, planForImage } from "../../src/backends/dpkg/plan/plan-for-image.js";
import { isOcipatchError } from "../../src/errors.js";
import type { Inventory } from "../../src/inventory/types.js";
import type { Plan } from "../../src/plan/types.js";
import { debianOs, ensureDpkgStatus, inventoryFromStatus, ubuntuOs } from "../harness/apt-host-oracle.js";
import {
  DEBIAN_KEYRING,
  fetchReal,
  hostDebianMirror,
  startFileServer,
  testCacheDir,
} from "../harness/apt-support.js";

let mirror: { debian: string; security: string };
let inv: Inventory;
let scratch: string;
let keyring: Buffer;
const sharedCache = join(testCacheDir(), "apt-cache");

beforeAll(async () => {
  mirror = await hostDebianMirror();
  const status = await ensureDpkgStatus("bullseye-nginx", "bullseye", mirror.debian, [
    "nginx-light",
    "curl",
    "openssl",
    "ca-certificates",
  ]);
  inv = await inventoryFromStatus(status, debianOs("bullseye", "11"));
  keyring = await readFile(DEBIAN_KEYRING);
  scratch = await mkdtemp(join(tmpdir(), "ocipatch-plan-image-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const base = (over: Partial<PlanForImageInput> = {}): PlanForImageInput => ({
  inventory: inv,
  architecture: "amd64",
  aptFiles: {
    sources: [{ path: "/etc/apt/sources.list", content: `deb ${mirror.debian} bullseye main\n` }],
    keyrings: [{ path: DEBIAN_KEYRING, content: keyring }],
  },
  mode: "all",
  host: null,
  hostKeyrings: null,
  client: { cacheDir: sharedCache },
  ...over,
});
const versions = (p: Plan) => p.updates.map((u) => `${u.package}=${u.targetVersion}`);

describe("repositories and downloads", () => {
  let reference: Plan;
  beforeAll(async () => {
    reference = (await planForImage(base())).plan;
    expect(reference.updates.length).toBeGreaterThan(10);
  });

  it("cold: downloads the signed InRelease files and the security/updates indices, not the release's index", async () => {
    const cold = await planForImage(base({ client: { cacheDir: join(scratch, "cold") } }));
    expect(versions(cold.plan)).toEqual(versions(reference));
    expect(cold.releaseIndexLoaded).toBe(false);
    // independently: the sizes the mirror serves for exactly those files
    let expected = 0;
    for (const [archive, suite] of [
      [mirror.security, "bullseye-security"],
      [mirror.debian, "bullseye-updates"],
    ] as const) {
      const inRelease = (await fetchReal(`${archive}/dists/${suite}/InRelease`)).toString("utf8");
      const xz = /^ [0-9a-f]{64}\s+(\d+) main\/binary-amd64\/Packages\.xz$/m.exec(
        inRelease.slice(inRelease.indexOf("SHA256:")),
      );
      expected += Buffer.byteLength(inRelease) + Number(xz![1]);
    }
    expect(cold.stats.bytesDownloaded).toBe(expected);
    const mainXz = /^ [0-9a-f]{64}\s+(\d+) main\/binary-amd64\/Packages\.xz$/m.exec(
      (await fetchReal(`${mirror.debian}/dists/bullseye/InRelease`)).toString("utf8").split("SHA256:")[1]!,
    );
    expect(cold.stats.bytesDownloaded).toBeLessThan(Number(mainXz![1]));
    // warm: indices come from the cache; only the (revalidated) InRelease files are fetched
    const warm = await planForImage(base({ client: { cacheDir: join(scratch, "cold") } }));
    expect(versions(warm.plan)).toEqual(versions(reference));
    expect(warm.stats.cacheHits).toBe(2);
    expect(warm.stats.requests).toBe(2);
    expect(cold.signatures.map((s) => s.suite).sort()).toEqual(["bullseye-security", "bullseye-updates"]);
    // offline: only the verified cache, no request at all; an empty cache is a clear error
    const offline = await planForImage(base({ client: { cacheDir: join(scratch, "cold"), offline: true } }));
    expect(versions(offline.plan)).toEqual(versions(reference));
    expect(offline.stats.requests).toBe(0);
    await expect(
      planForImage(base({ client: { cacheDir: join(scratch, "empty"), offline: true } })),
    ).rejects.toThrow(/^offline: .*InRelease is not in the cache$/);
  });

  it("reads the release's own index only when a fix or a dependency is not in security/updates", async () => {
    const r = await planForImage(
      base({
        mode: "targets",
        targets: [
          { sourceName: "openssl", fixedVersion: "1.1.1w-0+deb11u2", vulnerabilityIds: ["CVE-2024-0727"] },
          { sourceName: "zlib", fixedVersion: "1:9.9", vulnerabilityIds: ["CVE-FAKE-1"] },
        ],
        ignoreErrors: true,
      }),
    );
    expect(r.releaseIndexLoaded).toBe(true);
    expect(r.plan.updates.map((u) => u.package).sort()).toEqual(["libssl1.1", "openssl"]);
    expect(r.plan.unresolved.map((u) => `${u.package}: ${u.reason}`)).toEqual([
      "zlib1g: no version of source zlib ≥ 1:9.9 in the release's suites",
    ]);
    let err: unknown;
    try {
      await planForImage(
        base({
          mode: "targets",
          targets: [{ sourceName: "zlib", fixedVersion: "1:9.9", vulnerabilityIds: [] }],
        }),
      );
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "RESOLVE")).toBe(true);
    expect((err as Error).message).toBe(
      "cannot plan zlib1g: no version of source zlib ≥ 1:9.9 in the release's suites",
    );
  });

  it("an air-gapped mirror: the config's URL mapping sends every request there", async () => {
    const seen: string[] = [];
    const proxy = await startFileServer(new Map(), async (req, res) => {
      const path = req.url ?? "";
      seen.push(path);
      const upstream = path.startsWith("/ds/")
        ? `${mirror.security}/${path.slice(4)}`
        : `${mirror.debian}/${path.slice(5)}`;
      const r = await httpGet(upstream, newStats());
      if (r.status !== 200) res.writeHead(404).end();
      else res.writeHead(200).end(r.body);
      return true;
    });
    try {
      const rewrites = { [mirror.debian]: `${proxy.url}/deb`, [mirror.security]: `${proxy.url}/ds` };
      const r = await planForImage(
        base({
          config: { mirrors: { rewrites }, keyrings: [], checkValidUntil: undefined },
          client: { cacheDir: join(scratch, "m1") },
        }),
      );
      expect(versions(r.plan)).toEqual(versions(reference));
      expect(r.plan.updates.every((u) => u.url.startsWith(proxy.url))).toBe(true);
      expect(seen.some((p) => p.startsWith("/ds/dists/bullseye-security/"))).toBe(true);
      expect(seen.some((p) => p.startsWith("/deb/dists/bullseye-updates/"))).toBe(true);
      // --mirror / --security-mirror: the same, with the image's sources replaced
      const seenBefore = seen.length;
      const r2 = await planForImage(
        base({
          config: {
            mirrors: { mirror: `${proxy.url}/deb`, securityMirror: `${proxy.url}/ds` },
            keyrings: [],
            checkValidUntil: undefined,
          },
          client: { cacheDir: join(scratch, "m2") },
        }),
      );
      expect(versions(r2.plan)).toEqual(versions(reference));
      expect(seen.length).toBeGreaterThan(seenBefore);
    } finally {
      await proxy.close();
    }
  });

  it("a distroless image (no sources, no keys) uses the host's archives and keyrings when the host runs the same distribution", async () => {
    const hostOs = (await readFile("/etc/os-release", "utf8")).match(/^ID=(.*)$/m)?.[1]?.replace(/"/g, "");
    const r = planForImage(
      base({ aptFiles: { sources: [], keyrings: [] }, host: undefined, hostKeyrings: undefined }),
    );
    if (hostOs !== "debian") {
      await expect(r).rejects.toMatchObject({ code: "USAGE" });
      return;
    }
    const plan = await r;
    expect(plan.repositories.every((x) => x.derived && x.keysFromFallback)).toBe(true);
    expect(versions(plan.plan)).toEqual(versions(reference));
    expect(plan.warnings.join("\n")).toMatch(/the image has no apt sources: using the host's debian archive/);
  });

  it("a distroless Ubuntu image on a Debian host without --mirror is refused with one line", async () => {
    const ubuntuInv: Inventory = { ...inv, os: ubuntuOs("jammy", "22.04") };
    let err: unknown;
    try {
      await planForImage(
        base({ inventory: ubuntuInv, aptFiles: { sources: [], keyrings: [] }, host: undefined }),
      );
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "USAGE")).toBe(true);
    expect((err as Error).message).toBe(
      "the image has no apt sources for ubuntu jammy (distroless?): give a mirror URL (option or config file)",
    );
  });

  it("an unknown release is refused with one line, and nothing is planned", async () => {
    const bogus: Inventory = { ...inv, os: debianOs("bogus", "99") };
    let err: unknown;
    try {
      await planForImage(
        base({
          inventory: bogus,
          aptFiles: {
            sources: [{ path: "/etc/apt/sources.list", content: `deb ${mirror.debian} bogus main\n` }],
            keyrings: [{ path: DEBIAN_KEYRING, content: keyring }],
          },
        }),
      );
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "NOT_FOUND")).toBe(true);
    expect((err as Error).message).toMatch(
      /^unknown release bogus-security at .*: neither .*InRelease nor Release exists \(HTTP 404\)$/,
    );
  });

  it("an image whose keys did not sign its archive is refused", async () => {
    const { publicKey } = await import("openpgp").then((o) =>
      o.generateKey({ userIDs: [{ name: "x" }], format: "binary" }),
    );
    let err: unknown;
    try {
      await planForImage(
        base({
          aptFiles: {
            sources: base().aptFiles.sources,
            keyrings: [{ path: DEBIAN_KEYRING, content: publicKey }],
          },
          client: { cacheDir: join(scratch, "k") },
        }),
      );
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "SIGNATURE")).toBe(true);
  });
});
