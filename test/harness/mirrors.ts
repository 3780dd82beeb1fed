/**
 * Where the test images come from: the HOST's Debian mirror (read from its apt sources, so the
 * harness works unchanged on another mirror) and Ubuntu's archive (conventional URL, overridable).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./exec.js";

interface AptSourceEntry {
  readonly types: readonly string[];
  readonly uris: readonly string[];
  readonly suites: readonly string[];
  readonly components: readonly string[];
}

export interface Mirrors {
  /** e.g. http://deb.debian.org/debian (no trailing slash) */
  readonly debian: string;
  /** e.g. http://deb.debian.org/debian-security */
  readonly debianSecurity: string;
  /** e.g. http://archive.ubuntu.com/ubuntu */
  readonly ubuntu: string;
  /** e.g. http://security.ubuntu.com/ubuntu */
  readonly ubuntuSecurity: string;
}

/** Parses one-line (`deb [opts] uri suite comp...`) and deb822 (.sources) apt source files. */
export function parseAptSources(text: string, deb822: boolean): AptSourceEntry[] {
  const out: AptSourceEntry[] = [];
  if (!deb822) {
    for (const raw of text.split("\n")) {
      const line = raw.replace(/#.*/, "").trim();
      const m = /^(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
      if (!m) continue;
      out.push({
        types: [m[1]!],
        uris: [m[2]!],
        suites: [m[3]!],
        components: m[4]!.split(/\s+/).filter(Boolean),
      });
    }
    return out;
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const raw of stanza.split("\n")) {
      if (raw.startsWith("#")) continue;
      if (/^\s/.test(raw) && last) {
        fields.set(last, `${fields.get(last)} ${raw.trim()}`);
        continue;
      }
      const m = /^([\w-]+):\s*(.*)$/.exec(raw);
      if (!m) continue;
      last = m[1]!.toLowerCase();
      fields.set(last, m[2]!);
    }
    const list = (k: string) => (fields.get(k) ?? "").split(/\s+/).filter(Boolean);
    if (fields.get("enabled")?.trim() === "no") continue;
    if (list("uris").length === 0) continue;
    out.push({
      types: list("types"),
      uris: list("uris"),
      suites: list("suites"),
      components: list("components"),
    });
  }
  return out;
}

/** The host's apt sources (/etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}). */
export function hostAptSources(root = "/"): AptSourceEntry[] {
  const entries: AptSourceEntry[] = [];
  const list = join(root, "etc/apt/sources.list");
  if (existsSync(list)) entries.push(...parseAptSources(readFileSync(list, "utf8"), false));
  const dir = join(root, "etc/apt/sources.list.d");
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(".list")) entries.push(...parseAptSources(readFileSync(join(dir, f), "utf8"), false));
      if (f.endsWith(".sources")) entries.push(...parseAptSources(readFileSync(join(dir, f), "utf8"), true));
    }
  }
  return entries;
}

const strip = (u: string) => u.replace(/\/+$/, "");

/**
 * Mirrors from the host's apt sources; env DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR /
 * UBUNTU_MIRROR / UBUNTU_SECURITY_MIRROR override (OCIPATCH_TEST_ prefixed names also work).
 */
export function mirrors(): Mirrors {
  const env = (k: string) => process.env[`OCIPATCH_TEST_${k}`] || process.env[k] || undefined;
  const deb = hostAptSources().filter((e) => e.types.includes("deb"));
  const isSecuritySuite = (s: string) => /-security$|\/updates$/.test(s);
  const debianMain = deb.find(
    (e) => e.suites.some((s) => !isSecuritySuite(s)) && e.uris.some((u) => /\/debian\/?$/.test(u)),
  );
  const debianSec = deb.find(
    (e) => e.suites.some(isSecuritySuite) && e.uris.some((u) => /debian-security\/?$/.test(u)),
  );
  const debian = env("DEBIAN_MIRROR") ?? debianMain?.uris.find((u) => /\/debian\/?$/.test(u));
  const debianSecurity =
    env("DEBIAN_SECURITY_MIRROR") ?? debianSec?.uris.find((u) => /debian-security\/?$/.test(u));
  if (!debian || !debianSecurity) {
    throw new HarnessError(
      "cannot find the Debian mirror and security mirror in the host's apt sources (/etc/apt/sources.list*); set DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR",
    );
  }
  return {
    debian: strip(debian),
    debianSecurity: strip(debianSecurity),
    ubuntu: strip(env("UBUNTU_MIRROR") ?? "http://archive.ubuntu.com/ubuntu"),
    ubuntuSecurity: strip(env("UBUNTU_SECURITY_MIRROR") ?? "http://security.ubuntu.com/ubuntu"),
  };
}

/** SOURCE_DATE_EPOCH for a suite: the Date: of its Release file (stable for a given mirror state). */
export async function releaseEpoch(mirror: string, suite: string): Promise<number> {
  const url = `${mirror}/dists/${suite}/Release`;
  let text: string;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    text = await res.text();
  } catch (e) {
    throw new HarnessError(`cannot read ${url}: ${(e as Error).message}`);
  }
  const date = /^Date:\s*(.+)$/m.exec(text)?.[1];
  const ms = date ? Date.parse(date) : Number.NaN;
  if (Number.isNaN(ms)) throw new HarnessError(`no valid Date: in ${url}`);
  return Math.floor(ms / 1000);
}
