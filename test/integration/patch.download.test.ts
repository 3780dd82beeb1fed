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

it("bytesDownloaded is exact with parallel downloads (= bytes on disk = Content-Length sum)", async () => {
  const archive = join(testCacheDir(), "apt-archives", "debian-bullseye-amd64");
  const debs = readdirSync(archive)
    .filter((f) => f.endsWith(".deb"))
    .sort()
    .slice(0, 24);
  expect(debs.length, `real .debs in ${archive}`).toBeGreaterThanOrEqual(8);
  const files = new Map<string, Buffer>(debs.map((f) => [`/pool/${f}`, readFileSync(join(archive, f))]));
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
    const items = [...files].map(([path, body], i) => ({
      package: `p${i}`,
      architecture: "amd64",
      version: "1",
      url: `${server.url}${path}`,
      sha256: createHash("sha256").update(body).digest("hex"),
      size: body.length,
    }));
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
