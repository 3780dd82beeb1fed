import type { LayeredFs } from "../rootfs/index.js";
import { parseOsRelease } from "./os-release.js";
import { DEBIAN_CODENAMES } from "./releases.js";
import type { OsFamily, OsInfo } from "./types.js";

/** The subset of the filesystem view OS detection needs. */
export type OsFiles = Pick<LayeredFs, "readTextIfExists">;

const REDHAT_IDS = new Set(["rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn", "redhat"]);

export function osFamily(id: string, idLike: readonly string[]): OsFamily {
  const all = [id, ...idLike];
  if (all.some((x) => x === "debian" || x === "ubuntu")) return "debian";
  // the apk family: Wolfi (apko-built, ID=wolfi) uses apk packages and databases too
  if (all.some((x) => x === "alpine" || x === "wolfi")) return "alpine";
  if (all.some((x) => REDHAT_IDS.has(x))) return "redhat";
  // openSUSE Leap/Tumbleweed and SLES: ID opensuse-leap, opensuse-tumbleweed, sles; ID_LIKE "suse"
  if (all.some((x) => x === "suse" || x === "sles" || x.startsWith("opensuse"))) return "suse";
  return "unknown";
}

/** What is returned when nothing identifies the OS. */
export const UNKNOWN_OS: OsInfo = {
  id: "unknown",
  idLike: [],
  versionId: undefined,
  codename: undefined,
  prettyName: undefined,
  family: "unknown",
  source: "",
};

function info(
  id: string,
  idLike: string[],
  versionId: string | undefined,
  codename: string | undefined,
  prettyName: string | undefined,
  source: string,
): OsInfo {
  return { id, idLike, versionId, codename, prettyName, family: osFamily(id, idLike), source };
}

/** "testing/sid"-style codename from `bookworm/sid` or a PRETTY_NAME ending in it. */
function codenameFromSid(s: string | undefined): string | undefined {
  const m = s ? /(?:^|\s)([a-z]+)\/sid\s*$/.exec(s.trim()) : null;
  return m?.[1];
}

function fromOsRelease(text: string, source: string): OsInfo | undefined {
  const kv = parseOsRelease(text);
  const rawId = kv.get("ID");
  if (rawId === undefined && !kv.has("NAME")) return undefined;
  // os-release(5): ID defaults to "linux".
  const id = (rawId ?? "linux").toLowerCase();
  const idLike = (kv.get("ID_LIKE") ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const versionId = kv.get("VERSION_ID") || undefined;
  const pretty = kv.get("PRETTY_NAME") || undefined;
  let codename = kv.get("VERSION_CODENAME") || kv.get("UBUNTU_CODENAME") || undefined;
  codename ??= codenameFromSid(pretty);
  // Old releases (Debian 8) only say VERSION="8 (jessie)".
  codename ??= /\(([A-Za-z]+)\)/.exec(kv.get("VERSION") ?? "")?.[1]?.toLowerCase();
  if (codename === undefined && id === "debian" && versionId) codename = DEBIAN_CODENAMES[versionId];
  return info(id, idLike, versionId, codename?.toLowerCase(), pretty, source);
}

function fromLsbRelease(text: string, source: string): OsInfo | undefined {
  const kv = parseOsRelease(text);
  const id = kv.get("DISTRIB_ID")?.toLowerCase();
  if (!id) return undefined;
  return info(
    id,
    id === "ubuntu" ? ["debian"] : [],
    kv.get("DISTRIB_RELEASE") || undefined,
    kv.get("DISTRIB_CODENAME")?.toLowerCase() || undefined,
    kv.get("DISTRIB_DESCRIPTION") || undefined,
    source,
  );
}

function fromDebianVersion(text: string, source: string): OsInfo | undefined {
  const v = text.trim().split(/\s+/)[0] ?? "";
  if (v === "") return undefined;
  const sid = codenameFromSid(v);
  if (sid) return info("debian", [], undefined, sid, `Debian GNU/Linux ${v}`, source);
  const m = /^(\d+)(?:\.\d+)*$/.exec(v);
  if (!m) return info("debian", [], undefined, undefined, `Debian GNU/Linux ${v}`, source);
  const major = m[1]!;
  // Debian 7 and later number releases "major.point"; VERSION_ID in os-release is the major.
  return info("debian", [], major, DEBIAN_CODENAMES[major], `Debian GNU/Linux ${v}`, source);
}

function fromAlpineRelease(text: string, source: string): OsInfo | undefined {
  const v = text.trim().split(/\s+/)[0];
  if (!v) return undefined;
  return info("alpine", [], v, undefined, `Alpine Linux v${v}`, source);
}

const REDHAT_NAMES: Array<[RegExp, string]> = [
  [/^red hat enterprise linux/i, "rhel"],
  [/^centos/i, "centos"],
  [/^fedora/i, "fedora"],
  [/^rocky/i, "rocky"],
  [/^almalinux/i, "almalinux"],
  [/^oracle linux/i, "ol"],
  [/^amazon linux/i, "amzn"],
];

function fromRedhatRelease(text: string, source: string): OsInfo | undefined {
  const line = text.trim().split("\n")[0]?.trim() ?? "";
  if (line === "") return undefined;
  const id = REDHAT_NAMES.find(([re]) => re.test(line))?.[1] ?? "redhat";
  const version = /release\s+([0-9][0-9.]*)/i.exec(line)?.[1];
  const codename = /\(([^)]+)\)\s*$/.exec(line)?.[1]?.toLowerCase();
  return info(id, id === "fedora" ? [] : ["rhel", "fedora"], version, codename, line, source);
}

/** Files tried in order, with their parsers. */
const SOURCES: Array<[string, (text: string, source: string) => OsInfo | undefined]> = [
  ["/etc/os-release", fromOsRelease],
  ["/usr/lib/os-release", fromOsRelease],
  ["/etc/lsb-release", fromLsbRelease],
  ["/etc/debian_version", fromDebianVersion],
  ["/etc/alpine-release", fromAlpineRelease],
  ["/etc/redhat-release", fromRedhatRelease],
];

/** The files OS detection reads, in the order it tries them. */
export const OS_RELEASE_FILES: readonly string[] = SOURCES.map(([path]) => path);

/**
 * Identify the image's OS from `/etc/os-release`, then `/usr/lib/os-release`,
 * then the distribution's own release files. Returns UNKNOWN_OS when nothing
 * identifies it (scratch images, unknown distros).
 */
export async function detectOs(fs: OsFiles): Promise<OsInfo> {
  for (const [path, parse] of SOURCES) {
    const text = await fs.readTextIfExists(path, { maxBytes: 1024 * 1024 });
    if (text === undefined) continue;
    const found = parse(text, path);
    if (found) return found;
  }
  return UNKNOWN_OS;
}
