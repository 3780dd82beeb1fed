import type { InstalledPackage } from "../inventory/types.js";
import type { OsInfo } from "../os/types.js";

/** The parts of a package URL (https://github.com/package-url/purl-spec). */
export interface PurlParts {
  readonly type: string;
  readonly namespace?: string | undefined;
  readonly name: string;
  readonly version?: string | undefined;
  readonly qualifiers?: Readonly<Record<string, string | undefined>>;
  readonly subpath?: string | undefined;
}

/**
 * Percent-encode a purl component: everything except ASCII letters, digits,
 * ".", "-", "_", "~" and ":" (the spec keeps ":" unencoded) is UTF-8 percent
 * encoded, so "+" becomes "%2B" and "@" "%40".
 */
export function purlEncode(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9.\-_~:]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Canonical purl string: lower-case type, encoded components, sorted non-empty qualifiers. */
export function formatPurl(p: PurlParts): string {
  let s = `pkg:${p.type.toLowerCase()}/`;
  if (p.namespace) s += `${p.namespace.split("/").filter(Boolean).map(purlEncode).join("/")}/`;
  s += purlEncode(p.name);
  if (p.version) s += `@${purlEncode(p.version)}`;
  const q = Object.entries(p.qualifiers ?? {})
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (q.length > 0) s += `?${q.map(([k, v]) => `${k}=${purlEncode(v)}`).join("&")}`;
  if (p.subpath) s += `#${p.subpath.split("/").filter(Boolean).map(purlEncode).join("/")}`;
  return s;
}

/** `debian-12`, `ubuntu-22.04`; the codename when there is no version (Debian testing/sid). */
export function distroQualifier(os: Pick<OsInfo, "id" | "versionId" | "codename">): string | undefined {
  if (os.id === "unknown") return undefined;
  const v = os.versionId ?? os.codename;
  return v ? `${os.id}-${v}` : os.id;
}

/** A package version as its purl type writes it: the version, and qualifiers that carry parts of it. */
interface PurlVersion {
  readonly version: string;
  readonly qualifiers?: Readonly<Record<string, string>>;
}

/**
 * The purl of an installed package, as SBOM tools and vulnerability databases expect it:
 * `pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u4?arch=amd64&distro=debian-11`, with
 * `upstream=<source>[@<source version>]` when the source package differs. The namespace is the
 * OS id (`fallbackNamespace` when the OS is unknown). A type whose version has a part the purl
 * spec puts in a qualifier (rpm's epoch: `pkg:rpm/almalinux/bind@9.16.23-18.el9?epoch=32`) says
 * so with `purlVersion`.
 */
export function installedPurl(
  type: {
    readonly purlType: string;
    readonly fallbackNamespace: string;
    purlVersion?(pkg: InstalledPurlPackage): PurlVersion;
  },
  pkg: InstalledPurlPackage,
  os: Pick<OsInfo, "id" | "versionId" | "codename">,
): string {
  const namespace = os.id === "unknown" ? type.fallbackNamespace : os.id;
  let upstream: string | undefined;
  if (pkg.sourceName !== pkg.name || pkg.sourceVersion !== pkg.version) {
    upstream = pkg.sourceVersion === pkg.version ? pkg.sourceName : `${pkg.sourceName}@${pkg.sourceVersion}`;
  }
  const v: PurlVersion = type.purlVersion?.(pkg) ?? { version: pkg.version };
  return formatPurl({
    type: type.purlType,
    namespace,
    name: pkg.name,
    version: v.version,
    qualifiers: {
      ...v.qualifiers,
      arch: pkg.architecture || undefined,
      distro: distroQualifier(os),
      upstream,
    },
  });
}

/** What a purl is made of. */
type InstalledPurlPackage = Pick<
  InstalledPackage,
  "name" | "version" | "architecture" | "sourceName" | "sourceVersion"
>;
