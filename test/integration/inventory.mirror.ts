/**
 * Test support: the HOST's Debian mirrors (from /etc/apt/sources.list.d/*.sources
 * and /etc/apt/sources.list) and a download cache under $OCIPATCH_TEST_CACHE.
 * Production code never reads host apt configuration.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseParagraphs } from "../../src/backends/dpkg/debian/deb822.js";

export const TEST_CACHE = process.env["OCIPATCH_TEST_CACHE"] || "/var/cache/ocipatch-test";

interface HostMirrors {
  /** e.g. http://deb.debian.org/debian */
  readonly debian: string;
  /** e.g. http://deb.debian.org/debian-security */
  readonly security: string;
}

/** URIs and suites of the host's apt sources. */
function hostSources(): Array<{ uri: string; suites: string[] }> {
  const out: Array<{ uri: string; suites: string[] }> = [];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".sources"))) {
      for (const p of parseParagraphs(readFileSync(join(dir, f), "utf8"), { onError: () => undefined })) {
        const uris = (p.get("URIs") ?? "").split(/\s+/).filter(Boolean);
        const suites = (p.get("Suites") ?? "").split(/\s+/).filter(Boolean);
        for (const uri of uris) out.push({ uri: uri.replace(/\/+$/, ""), suites });
      }
    }
  }
  if (existsSync("/etc/apt/sources.list")) {
    for (const line of readFileSync("/etc/apt/sources.list", "utf8").split("\n")) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (m) out.push({ uri: m[1]!.replace(/\/+$/, ""), suites: [m[2]!] });
    }
  }
  return out;
}

export function hostMirrors(): HostMirrors {
  const sources = hostSources();
  const security = sources.find((s) => s.suites.some((x) => x.endsWith("-security")))?.uri;
  const debian = sources.find((s) => s.suites.some((x) => !x.includes("-")) && s.uri !== security)?.uri;
  if (!debian || !security)
    throw new Error("cannot find the Debian mirror and security mirror in the host's /etc/apt sources");
  return { debian, security };
}

/** Download `url` once into the cache (atomic rename); returns the file path. */
export async function cachedDownload(url: string, subdir: string): Promise<string> {
  const dir = join(TEST_CACHE, subdir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, url.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9._-]/g, "_"));
  if (existsSync(file)) return file;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  const tmp = `${file}.${process.pid}.part`;
  writeFileSync(tmp, Buffer.from(await res.arrayBuffer()));
  renameSync(tmp, file);
  return file;
}
