/**
 * Faults in the middle of building the patch layer: a cancellation (deadline or signal)
 * at any moment of the build ends it with the cancellation — never a stray parser error
 * escaping as an uncaught exception (which used to end the process before its clean-up) —
 * and the half-written layer file is removed. Real image, real .debs from the mirror.
 * Registry faults during a whole `ocipatch patch` (fault proxy in front of the real
 * registry): one transient fault is retried; a persistent one ends in one line after
 * bounded retries, and the tag never points at an image with missing blobs.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { buildPatchLayer, type DebToInstall } from "../../src/patch/build/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { debianDeb } from "../harness/debian-packages.js";
import { run } from "../harness/exec.js";
import {
  type FaultAction,
  type FaultProxy,
  isBlobGet,
  isManifest,
  PASS,
  startFaultProxy,
} from "../harness/fault-proxy.js";
import { ensureImage } from "../harness/images.js";
import { runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-faults-build-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("cancelling the layer build", () => {
  it("at any moment: the cancellation is the error, the layer file is gone, nothing escapes", async () => {
    const img = await ensureImage("nginx-bookworm");
    const image = await openImage(img.ociRef);
    const packages = ["libssl3", "openssl"];
    let cancelled = 0;
    // from "before the first entry" to "in the middle of libssl3's large .so files"
    for (const delayMs of [0, 5, 20, 60, 150, 300, 600]) {
      const signal = AbortSignal.timeout(Math.max(1, delayMs));
      const fs = await LayeredFs.open(image, { scratchDir: work, signal });
      const layerPath = join(work, `layer-${delayMs}.tar.gz`);
      try {
        const inventory = await readInventoryFromFs(fs);
        const debs: DebToInstall[] = packages.map((p) => {
          const installed = inventory.packages.find((x) => x.name === p)!;
          return {
            package: p,
            architecture: installed.architecture,
            debPath: debianDeb("bookworm-security", p).path,
            installed,
          };
        });
        await buildPatchLayer({
          fs,
          inventory,
          debs,
          compression: "gzip",
          layerPath,
          manifestMediaType: image.mediaType,
          signal,
        });
        // finished before the deadline: fine, but then the layer is there
        expect(existsSync(layerPath)).toBe(true);
      } catch (e) {
        if (!signal.aborted) throw e;
        cancelled++;
        const err = e as Error & { code?: string };
        // the cancellation itself, not a consequence of it
        expect(err.message).not.toMatch(/ended early|corrupt|truncated/);
        expect(
          err.code === "CANCELLED" || err.name === "AbortError" || err.name === "TimeoutError",
          `${delayMs}ms: ${err.name} ${err.code} ${err.message}`,
        ).toBe(true);
        expect(existsSync(layerPath)).toBe(false);
      } finally {
        await fs.close();
      }
    }
    expect(cancelled).toBeGreaterThan(0);
  }, 300_000);
});

/** ---- registry faults during `ocipatch patch`, through the fault proxy in front of the real registry ---- */

const reg = inject("registry");
const proxies: FaultProxy[] = [];
afterAll(async () => {
  for (const p of proxies) await p.close();
});

async function skopeoExists(ref: string): Promise<boolean> {
  const r = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
    okCodes: [0, 1, 2],
  });
  return r.code === 0;
}

/** Every blob the manifest names can be read (skopeo copies the whole image). */
async function assertWhole(ref: string): Promise<void> {
  const dir = mkdtempSync(join(work, "whole-"));
  await run("skopeo", ["copy", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}:x`]);
  rmSync(dir, { recursive: true, force: true });
}

const isUpload = (req: IncomingMessage) => /\/blobs\/uploads\//.test(req.url ?? "");
const isManifestPut = (req: IncomingMessage) => req.method === "PUT" && isManifest(req);

/** The first `n` requests matching `match` get `action`; the rest pass. */
function firstN(match: (req: IncomingMessage) => boolean, n: number, action: FaultAction) {
  let left = n;
  return (req: IncomingMessage): FaultAction => (match(req) && left-- > 0 ? action : PASS);
}

describe("registry faults during ocipatch patch", () => {
  let dbDir: string;
  let repo: string;
  beforeAll(async () => {
    dbDir = await trackerDb();
    const pushed = await pushImage(
      await ensureImage("nginx-bullseye"),
      reg.host,
      `faults/nginx-${process.pid}-${Date.now()}:1`,
    );
    repo = pushed.ref.slice(reg.host.length + 1).replace(/:1$/, "");
  }, 900_000);

  async function patchThrough(
    decide: Parameters<typeof startFaultProxy>[1],
    tag: string,
    extra: string[] = [],
  ) {
    const proxy = await startFaultProxy(reg.host, decide);
    proxies.push(proxy);
    const r = await runCli([
      "patch",
      "-i",
      `${proxy.host}/${repo}:1`,
      "-t",
      tag,
      "--db-dir",
      dbDir,
      "--skip-db-update",
      ...extra,
    ]);
    return { r, proxy, direct: `${reg.host}/${repo}:${tag}` };
  }

  it.each([
    ["HTTP 500 on a blob GET", firstN(isBlobGet, 1, { kind: "status", status: 500 })],
    ["HTTP 502 on a blob GET", firstN(isBlobGet, 1, { kind: "status", status: 502 })],
    ["a reset on a blob GET", firstN(isBlobGet, 1, { kind: "reset" })],
    ["a truncated blob GET body", firstN(isBlobGet, 1, { kind: "cut", after: 1000 })],
    [
      "HTTP 503 on an upload PATCH/PUT",
      firstN((q) => isUpload(q) && q.method !== "POST", 1, { kind: "status", status: 503 }),
    ],
    ["a reset on an upload POST", firstN((q) => isUpload(q) && q.method === "POST", 1, { kind: "reset" })],
    ["HTTP 500 on the manifest PUT", firstN(isManifestPut, 1, { kind: "status", status: 500 })],
    [
      "HTTP 429 with Retry-After on the manifest PUT",
      firstN(isManifestPut, 1, { kind: "status", status: 429, headers: { "retry-after": "1" } }),
    ],
  ] as const)(
    "%s: retried, the patched image arrives whole",
    async (_what, decide) => {
      const tag = `ok-${Math.floor(Math.random() * 1e9)}`;
      const { r, proxy, direct } = await patchThrough(decide, tag);
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.requests.some((q) => q.action !== "pass")).toBe(true);
      await assertWhole(direct);
      // the base layers were already in the repository: only the new layer and the config were sent
      const uploads = proxy.requests.filter((q) => q.method === "PUT" && /\/blobs\/uploads\//.test(q.url));
      expect(uploads.length).toBeLessThanOrEqual(3);
    },
    300_000,
  );

  it.each([
    [
      "HTTP 500 on every upload PUT",
      (q: IncomingMessage) => isUpload(q) && q.method === "PUT",
      { kind: "status", status: 500 },
    ],
    ["a reset on every manifest PUT", isManifestPut, { kind: "reset" }],
  ] as const)(
    "%s: bounded retries, one line, exit 1, the tag never points at a partial image",
    async (_what, match, action) => {
      const tag = `fail-${Math.floor(Math.random() * 1e9)}`;
      const { r, proxy, direct } = await patchThrough(
        (q) => (match(q) ? (action as FaultAction) : PASS),
        tag,
      );
      expect(r.code).toBe(1);
      const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(proxy.host);
      // bounded: the retries of each attempt times the restarts of each upload
      const faulted = proxy.requests.filter((q) => q.action !== "pass").length;
      expect(faulted).toBeGreaterThan(1);
      expect(faulted).toBeLessThanOrEqual(50);
      expect(await skopeoExists(direct)).toBe(false);
    },
    600_000,
  );

  it("a body that stalls: the deadline ends the run with one line, nothing written", async () => {
    const tag = `stall-${Math.floor(Math.random() * 1e9)}`;
    const { r, direct } = await patchThrough((q) => (isBlobGet(q) ? { kind: "hang" } : PASS), tag, [
      "--timeout",
      "15s",
    ]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/did not finish within 15\.0s \(--timeout\); nothing was written/);
    expect(await skopeoExists(direct)).toBe(false);
  }, 120_000);
});
