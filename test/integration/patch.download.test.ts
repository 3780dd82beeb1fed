/**
 * `downloadDebs` accounting under concurrency (issue 15): `bytesDownloaded` equals the sum of the
 * .debs written to disk and of the Content-Length the server sent. Real .debs (the harness's
 * bullseye apt archive), served in small chunks from loopback so the parallel downloads interleave.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { downloadDebs } from "../../src/backends/dpkg/download.js";
import { startFileServer, testCacheDir } from "../harness/apt-support.js";
import { makeTempDir } from "../harness/fs.js";

const work: string[] = [];
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

/** The first `n` real .debs of the harness's bullseye apt archive, by URL path `/pool/<file>`. */
function realDebs(n: number): Map<string, Buffer> {
  const archive = join(testCacheDir(), "apt-archives", "debian-bullseye-amd64");
  const debs = readdirSync(archive)
    .filter((f) => f.endsWith(".deb"))
    .sort()
    .slice(0, n);
  expect(debs.length, `real .debs in ${archive}`).toBeGreaterThanOrEqual(Math.min(n, 8));
  return new Map(debs.map((f) => [`/pool/${f}`, readFileSync(join(archive, f))]));
}

/** One download per file served at `url`, with the digest and size an index would give. */
function downloadsOf(files: Map<string, Buffer>, url: string) {
  return [...files].map(([path, body], i) => ({
    package: `p${i}`,
    architecture: "amd64",
    version: "1",
    url: `${url}${path}`,
    sha256: createHash("sha256").update(body).digest("hex"),
    size: body.length,
  }));
}

it("bytesDownloaded is exact with parallel downloads (= bytes on disk = Content-Length sum)", async () => {
  const files = realDebs(24);
  let sent = 0;
  const server = await startFileServer(files, async (req, res) => {
    const body = files.get(req.url ?? "");
    if (!body) return false;
    res.writeHead(200, { "content-length": body.length });
    sent += body.length;
    for (let o = 0; o < body.length; o += 16_384) {
      if (!res.write(body.subarray(o, o + 16_384))) await new Promise((r) => res.once("drain", r));
      await new Promise((r) => setImmediate(r));
    }
    res.end();
    return true;
  });
  try {
    const cacheDir = makeTempDir("download-accounting");
    work.push(cacheDir);
    const items = downloadsOf(files, server.url);
    const got = await downloadDebs(items, { cacheDir, concurrency: 6 });
    const onDisk = got.files.reduce((s, f) => s + statSync(f!).size, 0);
    const needed = items.reduce((s, i) => s + i.size, 0);
    expect(got.fromCache).toBe(0);
    expect(got.bytesDownloaded).toBe(onDisk);
    expect(got.bytesDownloaded).toBe(sent);
    expect(got.bytesDownloaded).toBe(needed);
    // again: everything from the cache, nothing downloaded
    const again = await downloadDebs(items, { cacheDir, concurrency: 6 });
    expect(again).toMatchObject({ bytesDownloaded: 0, fromCache: items.length });
  } finally {
    await server.close();
  }
});

it("says where every file goes before fetching, and settles each as it arrives: a 404 its own, a failure the rest", async () => {
  const files = realDebs(4);
  expect(files.size).toBe(4);
  // the last file is sent only once the first one was said to be there
  let firstArrived: () => void = () => undefined;
  const firstSettled = new Promise<void>((r) => {
    firstArrived = r;
  });
  const last = [...files.keys()][3];
  const server = await startFileServer(files, async (req) => {
    if (req.url === last) await firstSettled;
    return false;
  });
  try {
    const items = downloadsOf(files, server.url);
    const cacheDir = makeTempDir("download-pending");
    work.push(cacheDir);
    const gone = { ...items[2]!, url: `${server.url}/pool/gone.deb` };
    const planned: Array<{ path: string; ready: Promise<void> }> = [];
    let requestsWhenPlanned = -1;
    const got = await downloadDebs([items[0]!, items[1]!, gone, items[3]!], {
      cacheDir,
      concurrency: 4,
      onVanished: "collect",
      onPlanned: (files) => {
        requestsWhenPlanned = server.requests.length;
        planned.push(...files);
        void files[0]!.ready.then(() => {
          // there and verified when said to be
          const body = readFileSync(files[0]!.path);
          expect(createHash("sha256").update(body).digest("hex")).toBe(items[0]!.sha256);
          firstArrived();
        });
      },
    });
    expect(requestsWhenPlanned).toBe(0);
    expect(planned.map((p) => p.path)).toEqual([got.files[0], got.files[1], planned[2]!.path, got.files[3]]);
    expect(got.files[2]).toBeUndefined();
    expect(got.vanished.map((v) => v.item.url)).toEqual([gone.url]);
    const settled = await Promise.allSettled(planned.map((p) => p.ready));
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(String((settled[2] as PromiseRejectedResult).reason)).toMatch(
      /no longer on the mirror \(HTTP 404\)/,
    );

    // a file that does not verify fails the fetch, and every file not there yet with it
    const bad = { ...items[1]!, sha256: "0".repeat(64) };
    const again: Array<{ path: string; ready: Promise<void> }> = [];
    const e = await downloadDebs([bad, items[3]!], {
      cacheDir: makeTempDir("download-pending-bad"),
      concurrency: 1,
      onPlanned: (files) => again.push(...files),
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(String(e)).toMatch(/sha256|SHA256|does not match/i);
    const results = await Promise.allSettled(again.map((p) => p.ready));
    expect(results.map((r) => (r.status === "rejected" ? r.reason : undefined))).toEqual([e, e]);
  } finally {
    await server.close();
  }
});
