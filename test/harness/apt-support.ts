/**
 * Test support for the apt repository and planning tests: the host's Debian mirror,
 * a cached Ubuntu archive keyring (from Debian trixie's `ubuntu-keyring` .deb), and a
 * tiny HTTP server for serving real files with injected faults.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { AptClient } from "../../src/backends/dpkg/apt/client.js";
import { readHostAptSources } from "../../src/backends/dpkg/apt/host.js";
import { httpGet, newStats } from "../../src/backends/dpkg/apt/http.js";
import { keyringFilesFromList, TrustStore } from "../../src/backends/dpkg/apt/keyring.js";
import type { Repository } from "../../src/backends/dpkg/apt/repositories.js";
import { parseAptSources } from "../../src/backends/dpkg/apt/sources.js";

export const run = promisify(execFile);

/** Slow, reusable test material (rootfs status files, keyrings, apt caches). */
export function testCacheDir(): string {
  return process.env["OCIPATCH_TEST_CACHE"] || "/var/cache/ocipatch-test";
}

/** The shared test material (`../shared` beside the repository; `$OCIPATCH_SHARED_DIR` overrides). */
export function sharedDir(): string {
  const candidates = [
    process.env["OCIPATCH_SHARED_DIR"],
    join(import.meta.dirname, "..", "..", "..", "shared"),
    "/work/shared",
  ].filter((x): x is string => x !== undefined && x !== "");
  const found = candidates.find((d) => existsSync(join(d, "README.md")));
  if (!found) throw new Error(`shared test material not found (tried ${candidates.join(", ")})`);
  return found;
}

/** The host's Debian mirror (main and security archive roots), from its own apt sources. */
export async function hostDebianMirror(): Promise<{ debian: string; security: string }> {
  const host = await readHostAptSources("/");
  if (!host) throw new Error("cannot read the host's apt sources");
  const entries = parseAptSources(host.sources).entries.filter((e) => e.type === "deb");
  const security = entries.find((e) => /-security$|\/updates$/.test(e.suite))?.uri;
  const debian = entries.find((e) => !/-security$|\/updates$/.test(e.suite) && /\/debian$/.test(e.uri))?.uri;
  if (!debian || !security) throw new Error("the host's apt sources name no Debian mirror");
  return { debian, security };
}

/** Ubuntu's official amd64 archive (reachable from the test machines). */
export const UBUNTU_ARCHIVE = "http://archive.ubuntu.com/ubuntu";

export const DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** A repository value for tests. */
export function repo(
  uri: string,
  suite: string,
  kind: Repository["kind"],
  codename: string,
  over: Partial<Repository> = {},
): Repository {
  return {
    uri,
    fetchUri: uri,
    suite,
    kind,
    components: ["main"],
    architectures: ["amd64"],
    signedBy: undefined,
    keysFromFallback: false,
    checkValidUntil: undefined,
    codename,
    derived: false,
    origin: "test",
    ...over,
  };
}

/** A TrustStore holding exactly the given keyring files (read from this machine). */
export async function trustFromFiles(paths: readonly string[]): Promise<TrustStore> {
  const files = await Promise.all(paths.map(async (p) => ({ path: p, content: await readFile(p) })));
  return new TrustStore(keyringFilesFromList([], "the test image"), files);
}

/**
 * Ubuntu's archive keyring, from the `ubuntu-keyring` package of Debian trixie (bookworm has none):
 * found through trixie's signed Packages index, downloaded, checked against the index, extracted
 * with dpkg-deb, cached.
 */
export async function ensureUbuntuKeyring(): Promise<string> {
  const dir = join(testCacheDir(), "ubuntu-keyring");
  const keyring = join(dir, "root/usr/share/keyrings/ubuntu-archive-keyring.gpg");
  if (existsSync(keyring)) return keyring;
  const mirror = await hostDebianMirror();
  const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
    cacheDir: join(testCacheDir(), "apt-cache"),
  });
  const rel = await client.release(repo(mirror.debian, "trixie", "release", "trixie"));
  const index = await client.packages(rel, "main", "amd64");
  const pkg = index?.get("ubuntu-keyring")[0];
  if (!pkg) throw new Error("ubuntu-keyring is not in trixie's main index");
  const res = await httpGet(`${mirror.debian}/${pkg.filename}`, newStats());
  if (!res.body) throw new Error(`cannot download ${pkg.filename}`);
  if (createHash("sha256").update(res.body).digest("hex") !== pkg.sha256)
    throw new Error("ubuntu-keyring .deb hash mismatch");
  await mkdir(dir, { recursive: true });
  const deb = join(dir, "ubuntu-keyring.deb");
  await writeFile(deb, res.body);
  const tmp = join(dir, "root.tmp");
  await rm(tmp, { recursive: true, force: true });
  await run("dpkg-deb", ["-x", deb, tmp]);
  await rm(join(dir, "root"), { recursive: true, force: true });
  await rename(tmp, join(dir, "root"));
  if (!existsSync(keyring)) throw new Error("ubuntu-keyring .deb has no ubuntu-archive-keyring.gpg");
  return keyring;
}

/** A loopback HTTP server; `files` maps URL paths to bodies (with ETag support), `handler` overrides. */
export async function startFileServer(
  files: Map<string, Buffer>,
  handler?: (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>,
): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer(async (req, res) => {
    requests.push(`${req.method} ${req.url}${req.headers["if-none-match"] ? " (conditional)" : ""}`);
    if (handler && (await handler(req, res))) return;
    const body = files.get(req.url ?? "");
    if (!body) {
      res.writeHead(404).end("not found");
      return;
    }
    const etag = `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
    if (req.headers["if-none-match"] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(200, { etag, "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Download a real file from the mirror (test setup). */
export async function fetchReal(url: string): Promise<Buffer> {
  const r = await httpGet(url, newStats());
  if (r.status !== 200 || !r.body) throw new Error(`GET ${url}: ${r.status}`);
  return r.body;
}
