import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, inject, it } from "vitest";
import { exitCodeFor, isOcipatchError, oneLine } from "../../src/errors.js";
import type { Image } from "../../src/image/image.js";
import { headManifest, openRegistryImage, registrySink } from "../../src/transport/registry/index.js";
import { readAll } from "../../src/util/streams.js";
import { type FaultProxy, isBlobGet, isManifest, PASS, startFaultProxy } from "../harness/fault-proxy.js";
import { freePort, registryBlobPath } from "../harness/registry.js";
import {
  pushTestImage,
  randomLayer,
  sha256Hex,
  skopeoInspectRaw,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };
const fast = { retryBaseDelayMs: 10 };

let proxies: FaultProxy[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
  for (const s of servers.splice(0)) s.close();
});

async function proxy(decide: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const p = await startFaultProxy(reg.host, decide);
  proxies.push(p);
  return p;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

async function layerBytes(img: Image): Promise<string[]> {
  const out: string[] = [];
  for (const l of await img.layers()) out.push(sha256Hex(await readAll(await l.uncompressed())));
  return out;
}

describe("retries", () => {
  it("honours Retry-After (seconds) on 503", async () => {
    const repo = uniqueRepo("retry");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    let failures = 0;
    const p = await proxy((req) =>
      isManifest(req) && failures++ < 2
        ? { kind: "status", status: 503, headers: { "retry-after": "1" } }
        : PASS,
    );
    const img = await openRegistryImage(`${p.host}/${repo}:v1`, fast);
    expect(img.digest).toBe(pushed.digest);
    const gets = p.requests.filter((r) => r.url.includes("/manifests/"));
    expect(gets.map((r) => r.action)).toEqual(["status", "status", "pass"]);
    expect(gets[1]!.time - gets[0]!.time).toBeGreaterThanOrEqual(950);
    expect(gets[2]!.time - gets[1]!.time).toBeGreaterThanOrEqual(950);
  });

  it("honours Retry-After (HTTP date) on 429", async () => {
    const repo = uniqueRepo("retry");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    let failures = 0;
    const p = await proxy((req) =>
      isManifest(req) && failures++ < 1
        ? {
            kind: "status",
            status: 429,
            headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() },
          }
        : PASS,
    );
    const img = await openRegistryImage(`${p.host}/${repo}:v1`, fast);
    expect(img.digest).toBe(pushed.digest);
    const gets = p.requests.filter((r) => r.url.includes("/manifests/"));
    expect(gets).toHaveLength(2);
    // HTTP dates have whole seconds: the wait is between 1 and 2 s
    expect(gets[1]!.time - gets[0]!.time).toBeGreaterThanOrEqual(950);
  });

  it("retries a request whose connection was reset", async () => {
    const repo = uniqueRepo("retry");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    let resets = 0;
    const p = await proxy((req) => (isBlobGet(req) && resets++ < 1 ? { kind: "reset" } : PASS));
    const img = (await openRegistryImage(`${p.host}/${repo}:v1`, fast)) as Image;
    expect(await layerBytes(img)).toEqual(pushed.tars.map(sha256Hex));
    expect(p.requests.filter((r) => r.action === "reset")).toHaveLength(1);
  });

  it("resumes a blob download cut in the middle with a Range request", async () => {
    const repo = uniqueRepo("retry");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`, { layers: [randomLayer(200 * 1024)] });
    const img = (await openRegistryImage(`${reg.host}/${repo}:v1`)) as Image;
    const layerDigest = img.manifest.layers[0]!.digest;
    let cuts = 0;
    const p = await proxy((req) =>
      isBlobGet(req) && req.url?.endsWith(layerDigest) && cuts++ < 1 ? { kind: "cut", after: 70_000 } : PASS,
    );
    const viaProxy = (await openRegistryImage(`${p.host}/${repo}:v1`, fast)) as Image;
    expect(await layerBytes(viaProxy)).toEqual(pushed.tars.map(sha256Hex));
    const gets = p.requests.filter((r) => r.url.endsWith(layerDigest));
    expect(gets).toHaveLength(2);
    expect(gets[0]!.headers.range).toBeUndefined();
    expect(gets[1]!.headers.range).toBe("bytes=70000-");
  });

  it("restarts an upload whose PUT failed, from a new upload session", async () => {
    const src = `${reg.host}/${uniqueRepo("retry")}:v1`;
    const pushed = await pushTestImage(src);
    const destRepo = uniqueRepo("restart");
    let failures = 0;
    const p = await proxy((req) =>
      req.method === "PUT" && req.url?.includes("/blobs/uploads/") && failures++ < 1
        ? { kind: "status", status: 503 }
        : PASS,
    );
    const result = await registrySink(`${p.host}/${destRepo}:v1`, { ...fast, concurrency: 1 }).write(
      await openRegistryImage(src),
    );
    expect(result.stats.blobsUploaded).toBe(2);
    const posts = p.requests.filter((r) => r.method === "POST" && r.url.includes("/blobs/uploads/"));
    // two blobs; the one whose PUT failed got a second upload session
    expect(posts).toHaveLength(3);
    expect((await skopeoInspectRaw(`${reg.host}/${destRepo}:v1`)).equals(pushed.manifest)).toBe(true);
  });

  it("gives up after the retries with a one-line error naming the registry", async () => {
    const repo = uniqueRepo("retry");
    await pushTestImage(`${reg.host}/${repo}:v1`);
    const p = await proxy((req) => (isManifest(req) ? { kind: "status", status: 503 } : PASS));
    const e = await rejection(openRegistryImage(`${p.host}/${repo}:v1`, { ...fast, retries: 2 }));
    expect(isOcipatchError(e, "REGISTRY")).toBe(true);
    expect(e.message).toBe(`registry ${p.host} answered HTTP 503 to GET manifest ${p.host}/${repo}:v1`);
    expect(p.requests.filter((r) => r.url.includes("/manifests/"))).toHaveLength(3);
  });
});

describe("registry answers", () => {
  it("maps a registry error body into the one-line message", async () => {
    const repo = uniqueRepo("err");
    const body = JSON.stringify({
      errors: [{ code: "UNKNOWN", message: "storage\nbackend down", detail: {} }],
    });
    const p = await proxy((req) => (isManifest(req) ? { kind: "status", status: 500, body } : PASS));
    const e = await rejection(openRegistryImage(`${p.host}/${repo}:v1`, { ...fast, retries: 1 }));
    expect(isOcipatchError(e, "REGISTRY")).toBe(true);
    expect(e.message).toBe(
      `registry ${p.host} answered HTTP 500 to GET manifest ${p.host}/${repo}:v1: UNKNOWN: storage backend down`,
    );
    // 500 is retried (bounded), then reported
    expect(p.requests.filter((r) => r.url.includes("/manifests/"))).toHaveLength(2);
  });

  it("refuses a Docker schema 1 manifest with a clear message", async () => {
    const repo = uniqueRepo("err");
    const body = JSON.stringify({ schemaVersion: 1, name: repo, tag: "v1", fsLayers: [], history: [] });
    const p = await proxy((req) =>
      isManifest(req)
        ? {
            kind: "status",
            status: 200,
            body,
            headers: { "content-type": "application/vnd.docker.distribution.manifest.v1+prettyjws" },
          }
        : PASS,
    );
    const e = await rejection(openRegistryImage(`${p.host}/${repo}:v1`, fast));
    expect(isOcipatchError(e, "UNSUPPORTED")).toBe(true);
    expect(e.message).toContain("Docker schema 1 manifest, which is deprecated and not supported");
  });

  it("a manifest whose bytes do not match the pinned digest is DIGEST_MISMATCH", async () => {
    const repo = uniqueRepo("err");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    const forged = Buffer.from(pushed.manifest.toString().replace('"schemaVersion":2', '"schemaVersion": 2'));
    const p = await proxy((req) =>
      isManifest(req)
        ? {
            kind: "status",
            status: 200,
            body: forged.toString(),
            headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
          }
        : PASS,
    );
    const e = await rejection(openRegistryImage(`${p.host}/${repo}@${pushed.digest}`, fast));
    expect(isOcipatchError(e, "DIGEST_MISMATCH")).toBe(true);
    expect(e.message).toBe(
      `manifest ${p.host}/${repo}@${pushed.digest}: the registry sent content with digest sha256:${sha256Hex(forged)}`,
    );
  });

  it("follows blob redirects to another host without sending it the credentials", async () => {
    // the same image in both registries under the same name: the authenticated one redirects blob downloads
    const repo = uniqueRepo("redirect");
    const pushed = await pushTestImage(`${authReg.host}/${repo}:v1`, { auth });
    const img = (await openRegistryImage(`${authReg.host}/${repo}:v1`, { credentials: auth })) as Image;
    const storage = await proxy(() => PASS);
    const front = await startFaultProxy(authReg.host, (req) =>
      isBlobGet(req)
        ? { kind: "status", status: 307, headers: { location: `http://${storage.host}${req.url}` } }
        : PASS,
    );
    proxies.push(front);
    // copy the blobs into the anonymous registry so the redirect target can serve them
    await registrySink(`${reg.host}/${repo}:v1`).write(img);
    const viaFront = (await openRegistryImage(`${front.host}/${repo}:v1`, { credentials: auth })) as Image;
    expect(await layerBytes(viaFront)).toEqual(pushed.tars.map(sha256Hex));
    const redirected = storage.requests.filter((r) => r.url.includes("/blobs/"));
    expect(redirected.length).toBeGreaterThanOrEqual(2);
    expect(redirected.every((r) => r.headers.authorization === undefined)).toBe(true);
    expect(front.requests.some((r) => r.headers.authorization?.startsWith("Basic "))).toBe(true);
  });
});

describe("network failures", () => {
  it("a refused connection says so, naming the registry", async () => {
    const port = await freePort();
    const e = await rejection(openRegistryImage(`127.0.0.1:${port}/app:v1`));
    expect(isOcipatchError(e, "NETWORK")).toBe(true);
    expect(e.message).toBe(`cannot connect to registry 127.0.0.1:${port}: connection refused`);
    expect(exitCodeFor(e)).toBe(5);
  });

  it("a registry that never answers times out, naming the host", async () => {
    const silent = createServer(() => {
      // accept and say nothing
    });
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const e = await rejection(openRegistryImage(`127.0.0.1:${port}/app:v1`, { timeoutMs: 300 }));
    expect(isOcipatchError(e, "TIMEOUT")).toBe(true);
    // a loopback port is asked in plain HTTP first: the connection opens, the answer never comes
    expect(e.message).toBe(
      `timed out after 0.3s waiting for registry 127.0.0.1:${port} to answer GET /v2/ (API check)`,
    );
  });

  it("a request without an answer times out, saying which", async () => {
    const repo = uniqueRepo("hang");
    await pushTestImage(`${reg.host}/${repo}:v1`);
    const p = await proxy((req) => (isManifest(req) ? { kind: "hang" } : PASS));
    const e = await rejection(openRegistryImage(`${p.host}/${repo}:v1`, { timeoutMs: 400 }));
    expect(isOcipatchError(e, "TIMEOUT")).toBe(true);
    expect(e.message).toBe(
      `timed out after 0.4s waiting for registry ${p.host} to answer GET manifest ${p.host}/${repo}:v1`,
    );
  });

  it("an AbortSignal cancels a request", async () => {
    const repo = uniqueRepo("hang");
    await pushTestImage(`${reg.host}/${repo}:v1`);
    const p = await proxy((req) => (isManifest(req) ? { kind: "hang" } : PASS));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const e = await rejection(openRegistryImage(`${p.host}/${repo}:v1`, { signal: ac.signal }));
    expect(isOcipatchError(e, "CANCELLED")).toBe(true);
  });
});

describe("corruption", () => {
  it("a blob whose bytes do not match its digest is detected and nothing is written", async () => {
    const srcRepo = uniqueRepo("tamper");
    await pushTestImage(`${reg.host}/${srcRepo}:v1`, { layers: [randomLayer(20_000)] });
    const img = (await openRegistryImage(`${reg.host}/${srcRepo}:v1`)) as Image;
    const layer = img.manifest.layers[0]!;
    // same size, different bytes, in the registry's own storage
    const path = registryBlobPath(
      { storage: reg.storage } as Parameters<typeof registryBlobPath>[0],
      layer.digest,
    );
    const bytes = await readFile(path);
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    await writeFile(path, bytes);

    const [l] = await img.layers();
    const readErr = await rejection(readAll(await l!.compressed()));
    expect(isOcipatchError(readErr, "DIGEST_MISMATCH")).toBe(true);
    expect(readErr.message).toContain(layer.digest);

    // chunked (PATCH) and monolithic (PUT) uploads
    for (const chunkSize of [8 * 1024, undefined]) {
      const destRepo = uniqueRepo("tampered");
      const dest = `${authReg.host}/${destRepo}:v1`;
      const e = await rejection(
        registrySink(dest, { credentials: auth, chunkSize }).write(
          (await openRegistryImage(`${reg.host}/${srcRepo}:v1`)) as Image,
        ),
      );
      expect(isOcipatchError(e, "DIGEST_MISMATCH")).toBe(true);
      expect(e.message).toContain(layer.digest);
      expect(oneLine(e)).toBe(e.message);
      expect(await headManifest(dest, { credentials: auth })).toBeUndefined();
      const head = await fetch(`http://${authReg.host}/v2/${destRepo}/blobs/${layer.digest}`, {
        method: "HEAD",
        headers: {
          authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`,
        },
      });
      expect(head.status).toBe(404);
    }
  });
});
