/**
 * Faults in the middle of building the patch layer: a cancellation (deadline or signal)
 * at any moment of the build ends it with the cancellation — never a stray parser error
 * escaping as an uncaught exception (which used to end the process before its clean-up) —
 * and the half-written layer file is removed. Real image, real .debs from the mirror.
 * Registry faults during a whole `ocipatch patch` (fault proxy in front of the real
 * registry): one transient fault is retried; a persistent one ends in one line after
 * bounded retries, and the tag never points at an image with missing blobs.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { attachArtifactToLayout, listLayoutReferrers } from "../../src/transport/oci-layout/referrers.js";
import type { Digest } from "../../src/util/digest.js";
import { hostDebianMirror } from "../harness/apt-support.js";
import { debianDeb, fetchedDeb } from "../harness/debian-packages.js";
import { run } from "../harness/exec.js";
import {
  type FaultAction,
  type FaultProxy,
  isBlobGet,
  isManifest,
  PASS,
  startFaultProxy,
} from "../harness/fault-proxy.js";
import { imageWithZeroFile } from "../harness/hostile-image.js";
import { copyImageLayout, ensureImage } from "../harness/images.js";
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
        const debs = packages.map((p) => fetchedDeb(inventory, debianDeb("bookworm-security", p)));
        await buildPatchLayer({
          fs,
          inventory,
          packages: debs,
          compression: "gzip",
          layerPath,
          platform: { os: "linux", architecture: "amd64" },
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
        expect(err.message, `${delayMs}ms: ${err.name} ${err.code}`).not.toMatch(
          /ended early|corrupt|truncated/,
        );
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
    from = repo,
  ) {
    const proxy = await startFaultProxy(reg.host, decide);
    proxies.push(proxy);
    const r = await runCli([
      "patch",
      "--push",
      "--no-referrers", // counts below are of the image's own uploads
      "-i",
      `${proxy.host}/${from}:1`,
      "-t",
      tag,
      "--db-dir",
      dbDir,
      "--skip-db-update",
      ...extra,
    ]);
    return { r, proxy, direct: `${reg.host}/${from}:${tag}` };
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
    "%s: bounded retries, one line, exit 5, the tag never points at a partial image",
    async (_what, match, action) => {
      const tag = `fail-${Math.floor(Math.random() * 1e9)}`;
      const { r, proxy, direct } = await patchThrough(
        (q) => (match(q) ? (action as FaultAction) : PASS),
        tag,
      );
      expect(r.code).toBe(5);
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
    expect(r.code).toBe(5);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/did not finish within 15\.0s \(--timeout\); nothing was written/);
    expect(await skopeoExists(direct)).toBe(false);
  }, 120_000);

  it("the deadline falls right after the write: the outcome is told truthfully, the tag is whole", async () => {
    // A large image (a 1 GiB file of zeros on top) behind a slow registry that stores the manifest
    // at once but answers the PUT only shortly before the deadline. The re-scan reads no layer any
    // more (the patched packages are known), so it usually ends before the deadline: exit 0. If the
    // deadline wins, the one line must say the tag was written — never "nothing was written".
    const big = join(mkdtempSync(join(work, "large-")), "layout");
    const bigRef = await imageWithZeroFile(await ensureImage("nginx-bullseye"), big, "zeros", 1024 ** 3);
    const bigRepo = `faults/large-${process.pid}-${Date.now()}`;
    await pushImage({ ociRef: bigRef }, reg.host, `${bigRepo}:1`);
    rmSync(big, { recursive: true, force: true });
    const timeoutS = 45;
    const marginMs = 1500;
    const tag = `rescan-${Math.floor(Math.random() * 1e9)}`;
    let putAt = 0;
    const started = Date.now();
    const deadline = started + timeoutS * 1000;
    const { r, direct } = await patchThrough(
      (q) => {
        if (!isManifestPut(q)) return PASS;
        putAt = Date.now();
        return { kind: "answer-late", at: deadline - marginMs };
      },
      tag,
      ["--timeout", `${timeoutS}s`],
      bigRepo,
    );
    expect(putAt, "the manifest PUT came too late for this test").toBeGreaterThan(started);
    expect(putAt, "the manifest PUT came too late for this test").toBeLessThan(deadline - marginMs);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    if (r.code === 0) {
      expect(errors, r.stderr).toEqual([]);
      expect(r.stderr).toMatch(/Pushed: \S+/);
    } else {
      expect(r.code, r.stderr).toBe(5);
      expect(errors, r.stderr).toHaveLength(1);
      expect(errors[0]).toMatch(
        new RegExp(
          `wrote \\S+/${bigRepo}:${tag}, but the re-scan did not finish within ${timeoutS}.0s \\(--timeout\\)`,
        ),
      );
    }
    expect(r.stderr).not.toMatch(/nothing was written/);
    // the message tells the truth: the tag has moved, to a whole image
    expect(await skopeoExists(direct)).toBe(true);
    await assertWhole(direct);
  }, 300_000);
});

/** ---- mirror faults: a loopback front of the real mirror ---- */

/** `endless`: the real file, then filler bytes without end (no Content-Length) until the client hangs up. */
type MirrorFault = "pass" | "503" | "corrupt" | "reset" | "endless";

interface MirrorHit {
  readonly path: string;
  readonly fault: MirrorFault;
  /** `endless`: the real file's length, and how many bytes were sent before the client hung up. */
  real?: number;
  sent?: number;
}

async function mirrorFront(decide: (path: string) => MirrorFault) {
  const upstream = await hostDebianMirror();
  const hits: MirrorHit[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    const m = /^\/(debian|debian-security)(\/.*)$/.exec(path);
    if (!m) return void res.writeHead(404).end();
    const fault = decide(path);
    const hit: MirrorHit = { path, fault };
    hits.push(hit);
    if (fault === "503") return void res.writeHead(503).end();
    try {
      const up = await request(`${m[1] === "debian" ? upstream.debian : upstream.security}${m[2]}`);
      const body = Buffer.from(await up.body.arrayBuffer());
      if (fault === "corrupt" && body.length > 100) body[body.length - 50]! ^= 0xff;
      if (fault === "endless") {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        const filler = Buffer.alloc(64 * 1024, "A");
        hit.real = body.length;
        hit.sent = 0;
        const pump = () => {
          // a safety stop, far beyond any cap, so that a client without one fails instead of hanging
          while (!res.destroyed && hit.sent! < 2 ** 30) {
            const b = hit.sent! < body.length ? body.subarray(hit.sent!, hit.sent! + filler.length) : filler;
            hit.sent! += b.length;
            if (!res.write(b)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
        return;
      }
      res.writeHead(up.statusCode, { "content-length": String(body.length) });
      if (fault === "reset") {
        res.write(body.subarray(0, Math.min(10_000, body.length >> 1)), () => res.socket?.destroy());
        return;
      }
      res.end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxies.push({
    host: url,
    requests: [],
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  });
  return { url, hits };
}

/** A Packages index, by its path or by hash (InRelease and Release are not). */
const isPackagesIndex = (p: string) => /\/Packages(\.xz|\.gz)?$|\/by-hash\/SHA256\//.test(p);
/** A Packages index asked for by hash: after its InRelease was read (not fetched early). */
const isByHash = (p: string) => /\/by-hash\/SHA256\//.test(p);

describe("mirror faults during ocipatch patch", () => {
  let dbDir: string;
  let ref: string;
  beforeAll(async () => {
    dbDir = await trackerDb();
    ref = (
      await pushImage(
        await ensureImage("nginx-bullseye"),
        reg.host,
        `faults/mirror-${process.pid}-${Date.now()}:1`,
      )
    ).ref;
  }, 900_000);

  async function patchVia(decide: (path: string) => MirrorFault, args: string[]) {
    const front = await mirrorFront(decide);
    const cache = mkdtempSync(join(work, "cache-"));
    const r = await runCli(
      [
        "patch",
        "-i",
        ref,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--mirror",
        `${front.url}/debian`,
        "--security-mirror",
        `${front.url}/debian-security`,
        ...args,
      ],
      { OCIPATCH_CACHE_DIR: cache },
    );
    return { r, hits: front.hits, cache };
  }
  const errors = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("[error]"));

  it("InRelease unavailable: one line, exit 5", async () => {
    const { r } = await patchVia((p) => (/\/(In)?Release(\.gpg)?$/.test(p) ? "503" : "pass"), ["--dry-run"]);
    expect(r.code).toBe(5);
    expect(errors(r.stderr)).toHaveLength(1);
    expect(errors(r.stderr)[0]).toMatch(/Release|503/);
  }, 300_000);

  it("a Packages file that no longer matches InRelease once: fetched again, the run succeeds", async () => {
    // the copies fetched early (while InRelease is) never match, then the first one asked for by hash
    let corrupted = 0;
    const { r, hits } = await patchVia(
      (p) => (isPackagesIndex(p) && (!isByHash(p) || corrupted++ === 0) ? "corrupt" : "pass"),
      ["--dry-run"],
    );
    expect(r.code, r.stderr).toBe(0);
    const corruptHit = hits.find((h) => h.fault === "corrupt" && isByHash(h.path))!;
    expect(corruptHit).toBeDefined();
    // InRelease read again (the mirror may have moved to a new snapshot), then the same index fetched again
    const inRelease = corruptHit.path.replace(/(\/dists\/[^/]+\/).*/, "$1InRelease");
    const reads = hits.filter((h) => h.path === inRelease || h.path === corruptHit.path).map((h) => h.path);
    expect(reads).toEqual([inRelease, corruptHit.path, inRelease, corruptHit.path]);
  }, 300_000);

  it("a Packages file that never matches: DIGEST_MISMATCH in one line after one refetch", async () => {
    const { r, hits } = await patchVia((p) => (isPackagesIndex(p) ? "corrupt" : "pass"), ["--dry-run"]);
    expect(r.code).toBe(6);
    expect(errors(r.stderr)).toHaveLength(1);
    expect(errors(r.stderr)[0]).toMatch(
      /does not match the signed Release.*twice \(InRelease read again in between\)/,
    );
    const first = hits.find((h) => h.fault === "corrupt" && isByHash(h.path))!.path;
    const inRelease = first.replace(/(\/dists\/[^/]+\/).*/, "$1InRelease");
    const reads = hits.filter((h) => h.path === inRelease || h.path === first).map((h) => h.path);
    expect(reads).toEqual([inRelease, first, inRelease, first]);
  }, 300_000);

  /**
   * What may be in flight beyond what the client read: the two sockets' buffers at the largest this
   * kernel lets them grow (tcp_rmem and tcp_wmem maxima; 32 MiB and 4 MiB on Debian 12), and 1 MiB
   * for the server's own queue of 64 KiB writes.
   */
  const tcpMax = (name: string) =>
    Number(readFileSync(`/proc/sys/net/ipv4/${name}`, "utf8").trim().split(/\s+/)[2]);
  const SLACK = tcpMax("tcp_rmem") + tcpMax("tcp_wmem") + 1024 * 1024;

  it("an endless InRelease: one line naming the cap, and the client stopped reading at 10,000,000 bytes", async () => {
    const { r, hits } = await patchVia(
      (p) => (/-security\/InRelease$/.test(p) ? "endless" : "pass"),
      ["--dry-run"],
    );
    expect(r.code).not.toBe(0);
    expect(errors(r.stderr), r.stderr).toHaveLength(1);
    expect(errors(r.stderr)[0]).toMatch(/InRelease: response larger than 10000000 bytes/);
    const endless = hits.filter((h) => h.fault === "endless");
    expect(endless.length).toBeGreaterThan(0);
    for (const h of endless) expect(h.sent).toBeLessThanOrEqual(10_000_000 + SLACK);
  }, 300_000);

  it("a Packages file longer than its signed size: refused while it downloads", async () => {
    const { r, hits } = await patchVia((p) => (isPackagesIndex(p) ? "endless" : "pass"), ["--dry-run"]);
    expect(r.code).not.toBe(0);
    expect(errors(r.stderr), r.stderr).toHaveLength(1);
    expect(errors(r.stderr)[0]).toMatch(
      /does not match the signed Release: larger than the \d+ bytes it lists/,
    );
    const endless = hits.filter((h) => h.fault === "endless");
    expect(endless.length).toBeGreaterThan(0);
    // never much more than the signed size (the real file's length) was read
    for (const h of endless) expect(h.sent).toBeLessThanOrEqual(h.real! + SLACK);
  }, 300_000);

  it("a .deb whose connection resets mid-stream: retried, verified again, the image is patched", async () => {
    let resets = 0;
    const tag = `deb-reset-${Math.floor(Math.random() * 1e9)}`;
    const { r, hits, cache } = await patchVia(
      (p) => (p.includes("/openssl_") && p.endsWith(".deb") && resets++ === 0 ? "reset" : "pass"),
      ["--push", "-t", tag],
    );
    expect(r.code, r.stderr).toBe(0);
    const gets = hits.filter((h) => h.path.includes("/openssl_") && h.path.endsWith(".deb"));
    expect(gets.map((h) => h.fault)).toEqual(["reset", "pass"]);
    await assertWhole(ref.replace(/:1$/, `:${tag}`));
    const debs = join(cache, "debs");
    const partial = existsSync(debs)
      ? readdirSync(debs, { recursive: true }).filter((f) => /\.part$/.test(String(f)))
      : [];
    expect(partial).toEqual([]);
  }, 300_000);
});

describe("two patch runs at the same time", () => {
  it("into the same OCI layout (different tags) and the same registry tag: both succeed, nothing lost or broken", async () => {
    const dbDir = await trackerDb();
    const layout = join(mkdtempSync(join(work, "concurrent-")), "layout");
    const src = await copyImageLayout(await ensureImage("nginx-bullseye"), layout);
    const pushed = await pushImage(
      await ensureImage("nginx-bullseye"),
      reg.host,
      `faults/concurrent-${process.pid}-${Date.now()}:1`,
    );
    const common = ["--db-dir", dbDir, "--skip-db-update"];
    const [a, b, c, d] = await Promise.all([
      runCli(["patch", "--push", "-i", src, "-t", "a", ...common]),
      runCli(["patch", "--push", "-i", src, "-t", "b", ...common]),
      runCli(["patch", "--push", "-i", pushed.ref, "-t", "same", ...common]),
      runCli(["patch", "--push", "-i", pushed.ref, "-t", "same", ...common]),
    ]);
    for (const r of [a, b, c, d]) expect(r.code, r.stderr).toBe(0);
    // both tags are in the layout, and umoci and skopeo read both
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    const tags = index.manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"]);
    expect(tags).toEqual(expect.arrayContaining(["a", "b"]));
    for (const t of ["a", "b"]) {
      await run("umoci", ["stat", "--image", `${layout}:${t}`]);
      await run("skopeo", ["inspect", `oci:${layout}:${t}`]);
    }
    expect(readdirSync(layout).filter((n) => n.startsWith("."))).toEqual([]);
    // each patched image has both referrers (VEX and SBOM) in the layout's index.json
    for (const t of ["a", "b"]) {
      const subject = index.manifests.find(
        (m) => m.annotations?.["org.opencontainers.image.ref.name"] === t,
      ) as unknown as { digest: Digest };
      const types = (await listLayoutReferrers(layout, subject.digest)).map((d) => d.artifactType).sort();
      expect(types, `referrers of ${t}`).toEqual([
        "application/vnd.cyclonedx+json",
        "application/vnd.in-toto+json",
      ]);
    }
    await assertWhole(pushed.ref.replace(/:1$/, ":same"));
  }, 600_000);

  it("referrers attached to one layout at the same time as images are tagged there: none is lost", async () => {
    const layout = join(mkdtempSync(join(work, "referrers-")), "layout");
    const image = await openImage(await copyImageLayout(await ensureImage("nginx-bullseye"), layout));
    const subject = image.digest;
    const n = 12;
    await Promise.all([
      ...Array.from({ length: n }, (_, i) =>
        attachArtifactToLayout(layout, subject, {
          artifactType: "application/vnd.example.test+json",
          mediaType: "application/vnd.example.test+json",
          blob: Buffer.from(JSON.stringify({ i })),
        }),
      ),
      ...Array.from({ length: 4 }, (_, i) => openSink(`oci:${layout}:tag-${i}`).write(image)),
    ]);
    expect(await listLayoutReferrers(layout, subject)).toHaveLength(n);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: { annotations?: Record<string, string> }[];
    };
    const tags = index.manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"]);
    expect(tags).toEqual(expect.arrayContaining(["tag-0", "tag-1", "tag-2", "tag-3"]));
    expect(readdirSync(layout).filter((x) => x.startsWith("."))).toEqual([]);
    await run("umoci", ["stat", "--image", `${layout}:tag-0`]);
    await run("skopeo", ["inspect", `oci:${layout}:tag-3`]);
  }, 120_000);
});

describe("a full disk", () => {
  const mounts: string[] = [];
  afterAll(async () => {
    for (const m of mounts) await run("umount", ["-l", m], { okCodes: [0, 32] });
  });

  it("an existing OCI layout on a filesystem with no room for the new layer: one line, the layout untouched, no partial blobs", async () => {
    const dbDir = await trackerDb();
    const img = await ensureImage("nginx-bullseye");
    const used = Number((await run("du", ["-sk", img.layoutDir])).stdout.split(/\s/)[0]);
    const mnt = mkdtempSync(join(work, "tmpfs-"));
    // room for the image and its config, not for the new layer (hundreds of KiB at least)
    await run("mount", ["-t", "tmpfs", "-o", `size=${used + 64}k`, "tmpfs", mnt]);
    mounts.push(mnt);
    const layout = join(mnt, "layout");
    const src = await copyImageLayout(img, layout);
    const indexBefore = readFileSync(join(layout, "index.json"));
    const blobsBefore = readdirSync(join(layout, "blobs/sha256")).sort();
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      src,
      "-t",
      "full",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(r.code).toBe(10);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/ENOSPC/);
    expect(readFileSync(join(layout, "index.json")).equals(indexBefore)).toBe(true);
    // blobs already complete (the config) may stay: content-addressed and whole; none is partial
    const blobs = readdirSync(join(layout, "blobs/sha256"));
    expect(blobs).toEqual(expect.arrayContaining(blobsBefore));
    for (const b of blobs.filter((x) => !blobsBefore.includes(x))) {
      const bytes = readFileSync(join(layout, "blobs/sha256", b));
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(b);
    }
    expect(readdirSync(layout).filter((n) => n.startsWith("."))).toEqual([]);
    await run("umoci", ["stat", "--image", src.replace(/^oci:/, "")]);
  }, 300_000);

  /** Every file under `dir` with its size rounded up to the filesystem's 4 KiB pages. */
  function files(dir: string): { path: string; kib: number }[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => {
        const path = join(d.parentPath, d.name);
        return { path, kib: Math.ceil(statSync(path).size / 4096) * 4 };
      });
  }

  /** Nothing partial or corrupt: no temp files; every content-addressed file hashes to its name. */
  function assertCacheSound(cache: string): void {
    const all = files(cache).map((f) => f.path);
    expect(all.filter((p) => /\.(tmp|part)$/.test(p))).toEqual([]);
    for (const p of all) {
      const m = /\/([0-9a-f]{64})(\.deb)?$/.exec(p);
      if (!m) continue;
      expect(createHash("sha256").update(readFileSync(p)).digest("hex"), p).toBe(m[1]);
    }
    // a release file is never without its validators, nor the other way round
    const lists = all.filter((p) => p.includes("/lists/"));
    for (const p of lists.filter((x) => !x.endsWith(".meta.json"))) expect(lists).toContain(`${p}.meta.json`);
  }

  it("the cache directory on a full filesystem: one ENOSPC line, nothing corrupt cached, a later run with room succeeds without clearing it", async () => {
    const dbDir = await trackerDb();
    const dir = mkdtempSync(join(work, "cache-full-"));
    const src = await copyImageLayout(await ensureImage("nginx-bullseye"), join(dir, "layout"));
    const patch = (tag: string, cache: string) =>
      runCli(["patch", "--push", "-i", src, "-t", tag, "--db-dir", dbDir, "--skip-db-update"], {
        OCIPATCH_CACHE_DIR: cache,
      });
    // how much the cache needs for this image: indices (apt) and packages (debs)
    const ref = join(dir, "ref-cache");
    const first = await patch("ref", ref);
    expect(first.code, first.stderr).toBe(0);
    const aptKiB = files(join(ref, "apt")).reduce((n, f) => n + f.kib, 0);
    const debs = files(join(ref, "debs"));
    const debsKiB = debs.reduce((n, f) => n + f.kib, 0);
    expect(debs.length).toBeGreaterThan(10);

    const cache = join(dir, "cache");
    mkdirSync(cache);
    await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", cache]);
    mounts.push(cache);
    const errorsOf = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("[error]"));

    // 1. no room for the Packages indices
    const a = await patch("a", cache);
    expect(a.code).not.toBe(0);
    expect(errorsOf(a.stderr), a.stderr).toHaveLength(1);
    expect(errorsOf(a.stderr)[0]).toMatch(/ENOSPC|no space left/);
    assertCacheSound(cache);

    // 2. room for the indices and about half of the packages
    await run("mount", ["-o", `remount,size=${aptKiB + 256 + Math.floor(debsKiB / 2)}k`, cache]);
    const b = await patch("b", cache);
    expect(b.code).not.toBe(0);
    expect(errorsOf(b.stderr), b.stderr).toHaveLength(1);
    expect(errorsOf(b.stderr)[0]).toMatch(/ENOSPC|no space left/);
    assertCacheSound(cache);
    const kept = files(join(cache, "debs")).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(debs.length);

    // 3. room for everything: the same cache, not cleared, is used as it is
    await run("mount", ["-o", `remount,size=${aptKiB + debsKiB + 4096}k`, cache]);
    const c = await patch("c", cache);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr.match(/Already present: \S+\.deb$/gm) ?? []).toHaveLength(kept);
    assertCacheSound(cache);
    expect(files(join(cache, "debs"))).toHaveLength(debs.length);
    await run("umoci", ["stat", "--image", `${join(dir, "layout")}:c`]);
  }, 600_000);
});
