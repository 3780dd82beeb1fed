/**
 * Every kind of request honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY, through a real
 * forwarding proxy on loopback (tinyproxy): the registry (manifests, blobs, uploads),
 * the apt mirror (InRelease, Packages), the .deb downloads and the vulnerability feeds.
 * The CLI runs as a separate process with only the proxy variables set, as a user's
 * shell would run it.
 */
import { readFileSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openRegistryImage } from "../../src/transport/registry/index.js";
import { getWithRetries } from "../../src/util/http/get.js";
import { startFileServer } from "../harness/apt-support.js";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { TRACKER_SUBSET, trackerDb } from "../harness/patch-support.js";
import { makeTestCa } from "../harness/pki.js";
import { pushImage } from "../harness/push.js";
import { freePort } from "../harness/registry.js";
import { pushTestImage, uniqueRepo } from "../harness/registry-fixtures.js";
import { startTinyproxy, type TinyProxy } from "../harness/tinyproxy.js";
import { startTlsRegistry } from "../harness/tls-registry.js";

const reg = inject("registry");
let proxy: TinyProxy;
const dirs: string[] = [];
afterAll(async () => {
  await proxy?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The environment a user behind a proxy has: no other proxy setting leaks in from the test runner. */
function proxyEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"])
    delete env[k];
  const cache = makeTempDir("proxy-cache");
  dirs.push(cache);
  return { ...env, HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, OCIPATCH_CACHE_DIR: cache, ...extra };
}

describe("requests through HTTP_PROXY", () => {
  let repo: string;
  let dbDir: string;
  beforeAll(async () => {
    await ensureBuilt();
    proxy = await startTinyproxy();
    dbDir = await trackerDb();
    const pushed = await pushImage(
      await ensureImage("nginx-bullseye"),
      reg.host,
      `proxy/nginx-${process.pid}:1`,
    );
    repo = pushed.ref.slice(reg.host.length + 1).replace(/:1$/, "");
  }, 900_000);

  it("patch: registry reads and uploads, the mirror's indices and the .debs all go through the proxy", async () => {
    const before = proxy.requests().length;
    const r = await runBin(
      [
        "patch",
        "--push",
        "--no-referrers",
        "-i",
        `${reg.host}/${repo}:1`,
        "-t",
        "proxied",
        "--db-dir",
        dbDir,
        "--skip-db-update",
      ],
      proxyEnv(),
    );
    expect(r.code, r.stderr).toBe(0);
    const seen = proxy.requests().slice(before);
    const via = (re: RegExp) => seen.filter((l) => re.test(l));
    const host = reg.host.replace(/\./g, "\\.");
    expect(via(new RegExp(`^GET http://${host}/v2/${repo}/manifests/1 `)).length).toBeGreaterThan(0);
    expect(via(new RegExp(`^GET http://${host}/v2/${repo}/blobs/sha256:`)).length).toBeGreaterThan(0);
    expect(
      via(new RegExp(`^(POST|PATCH|PUT) http://${host}/v2/${repo}/blobs/uploads/`)).length,
    ).toBeGreaterThan(0);
    expect(via(new RegExp(`^PUT http://${host}/v2/${repo}/manifests/proxied `)).length).toBe(1);
    expect(via(/^GET http:\/\/\S+\/dists\/\S+\/InRelease /).length).toBeGreaterThan(0);
    // Packages indices, by their signed hash (`Acquire-By-Hash`) or by name
    expect(
      via(/^GET http:\/\/\S+\/binary-\w+\/(by-hash\/SHA256\/[0-9a-f]{64}|Packages(\.xz|\.gz)?) /).length,
    ).toBeGreaterThan(0);
    expect(via(/^GET http:\/\/\S+\/pool\/\S+\.deb /).length).toBeGreaterThan(0);
  }, 600_000);

  it("db update: a feed over HTTP goes through the proxy", async () => {
    const server = await startFileServer(new Map([["/tracker.json", readFileSync(TRACKER_SUBSET)]]));
    try {
      const db = makeTempDir("proxy-db");
      dirs.push(db);
      const before = proxy.requests().length;
      const r = await runBin(
        ["db", "update", "--db-dir", db, "--source", `debian=${server.url}/tracker.json`, "-q"],
        proxyEnv(),
      );
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.requests().slice(before)).toContainEqual(
        expect.stringMatching(/^GET http:\/\/\S+\/tracker\.json /),
      );
    } finally {
      await server.close();
    }
  }, 300_000);

  it("bodies read slowly arrive whole, though the proxy closes the connection after each one", async () => {
    // tinyproxy answers HTTP/1.1 without `Connection: close` and then closes: with undici alone, a
    // body whose last bytes find its reader behind fails "other side closed" (see bodyEndInterceptor)
    const sizes = [100_000, 200_000, 1_000_000, 3_000_000, 5_000_123];
    const files = new Map(sizes.map((n) => [`/f${n}`, Buffer.alloc(n, n % 251)] as const));
    const server = await startFileServer(files);
    const saved = process.env["http_proxy"];
    try {
      // getWithRetries takes its proxy from the environment, as the CLI does (the lowercase name first)
      process.env["http_proxy"] = proxy.url;
      const before = proxy.requests().length;
      for (const [path, body] of files) {
        const got = await getWithRetries(`${server.url}${path}`, { attempts: 1 }, async (b) => {
          const parts: Buffer[] = [];
          for await (const chunk of b) {
            parts.push(chunk as Buffer);
            await new Promise((r) => setTimeout(r, 2));
          }
          return Buffer.concat(parts);
        });
        expect(got.kind === "ok" && got.value.equals(body), path).toBe(true);
      }
      expect(proxy.requests().slice(before)).toHaveLength(sizes.length);
    } finally {
      if (saved === undefined) delete process.env["http_proxy"];
      else process.env["http_proxy"] = saved;
      await server.close();
    }
  }, 120_000);

  it("NO_PROXY: a listed host is reached directly", async () => {
    const before = proxy.requests().length;
    const r = await runBin(
      ["inspect", `${reg.host}/${repo}:1`],
      proxyEnv({ NO_PROXY: "localhost,127.0.0.1" }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.requests().slice(before)).toEqual([]);
  }, 120_000);

  it("an unreachable proxy: one line, non-zero, the proxy named without its password", async () => {
    const dead = `http://user:pr0xy-secret@127.0.0.1:${await freePort()}`;
    const r = await runBin(
      ["inspect", `${reg.host}/${repo}:1`],
      proxyEnv({ HTTP_PROXY: dead, HTTPS_PROXY: dead }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr + r.stdout).not.toContain("pr0xy-secret");
  }, 120_000);
});

describe("a TLS registry through HTTPS_PROXY", () => {
  it("tunnels with CONNECT and still verifies the registry with the extra CA", async () => {
    proxy ??= await startTinyproxy();
    const dir = makeTempDir("proxy-tls");
    dirs.push(dir);
    const pki = makeTestCa(dir);
    const registry = await startTlsRegistry(pki, await readFile(pki.caCert, "utf8"));
    try {
      const image = await pushTestImage(`${registry.host}/${uniqueRepo("proxy-tls")}:v1`);
      const env = { PATH: process.env["PATH"] ?? "", HTTPS_PROXY: proxy.url };
      const before = proxy.requests().length;
      const img = await openRegistryImage(image.ref, {
        env: { ...env, OCIPATCH_CA_FILE: pki.caCert },
        homeDir: dir,
      });
      expect(img.digest).toBe(image.digest);
      expect(proxy.requests().slice(before)).toContain(`CONNECT ${registry.host} HTTP/1.1`);
      // the tunnel does not weaken verification: without the CA the registry is refused
      await expect(openRegistryImage(image.ref, { env, homeDir: dir })).rejects.toThrow(
        /TLS error talking to registry/,
      );
    } finally {
      await registry.stop();
    }
  }, 300_000);
});
