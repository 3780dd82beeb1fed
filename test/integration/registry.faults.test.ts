/**
 * One transient HTTP 500 from the registry — on a blob GET, on a chunk PATCH of an upload —
 * is retried with backoff (and the upload restarts from a new session), like 503/429/resets.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import type { Image } from "../../src/image/image.js";
import { openRegistryImage, registrySink } from "../../src/transport/registry/index.js";
import { readAll } from "../../src/util/streams.js";
import { type FaultProxy, isBlobGet, PASS, startFaultProxy } from "../harness/fault-proxy.js";
import {
  pushTestImage,
  randomLayer,
  sha256Hex,
  skopeoInspectRaw,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const fast = { retryBaseDelayMs: 10 };

let proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
});

async function proxy(decide: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const p = await startFaultProxy(reg.host, decide);
  proxies.push(p);
  return p;
}

describe("a single HTTP 500", () => {
  it("on a blob GET is retried", async () => {
    const repo = uniqueRepo("r500");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    let failures = 0;
    const p = await proxy((req) =>
      isBlobGet(req) && failures++ < 1 ? { kind: "status", status: 500, body: "{}" } : PASS,
    );
    const img = (await openRegistryImage(`${p.host}/${repo}:v1`, fast)) as Image;
    const layers: string[] = [];
    for (const l of await img.layers()) layers.push(sha256Hex(await readAll(await l.uncompressed())));
    expect(layers).toEqual(pushed.tars.map(sha256Hex));
    expect(p.requests.filter((r) => r.action === "status")).toHaveLength(1);
  });

  it("on a chunk PATCH restarts the upload once, honouring Retry-After, and the image arrives whole", async () => {
    const src = `${reg.host}/${uniqueRepo("r500")}:v1`;
    const pushed = await pushTestImage(src, { layers: [randomLayer(300 * 1024)] });
    const destRepo = uniqueRepo("r500dst");
    let failures = 0;
    const p = await proxy((req) =>
      req.method === "PATCH" && req.url?.includes("/blobs/uploads/") && failures++ < 1
        ? { kind: "status", status: 500, headers: { "retry-after": "1" } }
        : PASS,
    );
    const result = await registrySink(`${p.host}/${destRepo}:v1`, {
      ...fast,
      concurrency: 1,
      chunkSize: 64 * 1024,
    }).write(await openRegistryImage(src));
    expect(result.digest).toBe(pushed.digest);
    const failed = p.requests.findIndex((r) => r.action === "status");
    expect(failed).toBeGreaterThanOrEqual(0);
    // the restart waits for Retry-After and starts a new session
    const next = p.requests.slice(failed + 1).find((r) => r.method === "POST");
    expect(next).toBeDefined();
    expect(next!.time - p.requests[failed]!.time).toBeGreaterThanOrEqual(950);
    expect((await skopeoInspectRaw(`${reg.host}/${destRepo}:v1`)).equals(pushed.manifest)).toBe(true);
  });
});
