import { BACKENDS } from "../backends/registry.js";
import type { BackendId } from "../inventory/types.js";
import { DEBIAN_CODENAMES } from "../os/releases.js";
import type { Namespace } from "./types.js";

/** The version scheme that orders a namespace's package versions: the id of the package format. */
export type VersionScheme = BackendId;

/** The package format whose versions a namespace's records use (the backend that declares its family). */
export function schemeOf(namespace: Namespace): VersionScheme | undefined {
  const family = namespace.slice(0, namespace.indexOf(":"));
  return BACKENDS.find((b) => b.namespaces.includes(family))?.id;
}

/**
 * Which package name a namespace's records use: the source package (Debian, Ubuntu, Alpine's
 * origin) or the binary package (the RPM distributions' OSV records list every binary rpm an
 * advisory updates, with its EVR).
 */
export function recordsNameBinaries(namespace: Namespace): boolean {
  return schemeOf(namespace) === "rpm";
}

/** `9`, `9.4` → `almalinux:9` (RHEL-family namespaces are per major release). */
export function rpmMajorNamespace(
  id: "almalinux" | "rocky" | "rhel",
  version: string,
): Namespace | undefined {
  const m = /^(\d+)(?:\.\d+)*$/.exec(version.trim());
  return m ? `${id}:${m[1]}` : undefined;
}

/** Wolfi is a rolling distribution without release versions: one namespace. */
export const WOLFI_NAMESPACE: Namespace = "wolfi:rolling";

export function debianNamespace(codename: string): Namespace {
  return `debian:${codename.toLowerCase()}`;
}

export function ubuntuNamespace(version: string): Namespace {
  return `ubuntu:${version}`;
}

/** `v3.21`, `3.21`, `3.21.3` → `alpine:3.21`; `edge` → `alpine:edge`. */
export function alpineNamespace(release: string): Namespace | undefined {
  const r = release.trim().toLowerCase().replace(/^v/, "");
  if (r === "edge") return "alpine:edge";
  const m = /^(\d+)\.(\d+)(?:[._].*)?$/.exec(r);
  return m ? `alpine:${m[1]}.${m[2]}` : undefined;
}

/** Where an OSV `affected[].package.ecosystem` belongs. */
export interface EcosystemTarget {
  readonly namespace: Namespace;
  /** Subscription channel (Ubuntu Pro, FIPS...), undefined for the public archive. */
  readonly channel: string | undefined;
}

/**
 * Map an OSV ecosystem string to a namespace:
 * `Debian:11` → debian:bullseye, `Ubuntu:22.04:LTS` → ubuntu:22.04,
 * `Ubuntu:Pro:16.04:LTS` → ubuntu:16.04 in channel `ubuntu-pro`,
 * `Ubuntu:Pro:FIPS-updates:22.04:LTS` → channel `ubuntu-pro-fips-updates`,
 * `Alpine:v3.21` → alpine:3.21, `Wolfi` → wolfi:rolling, `AlmaLinux:9` → almalinux:9, `Rocky Linux:9` → rocky:9,
 * `Red Hat:enterprise_linux:9::appstream` → rhel:9 (other Red Hat products, such as EUS/AUS
 * streams, → undefined), `openSUSE:Leap 15.5` → opensuse-leap:15.5,
 * `SUSE:Linux Enterprise Server 15 SP5` → sles:15.5. Other ecosystems (PyPI, npm, ...) → undefined.
 */
export function namespaceForEcosystem(ecosystem: string): EcosystemTarget | undefined {
  const parts = ecosystem.split(":");
  const family = parts[0]?.toLowerCase();
  if (family === "debian") {
    const v = parts[1];
    if (!v) return undefined;
    const named = v.toLowerCase() === "unstable" ? "sid" : v.toLowerCase();
    const codename = DEBIAN_CODENAMES[v.split(".")[0] ?? ""] ?? (/^[a-z]+$/.test(named) ? named : undefined);
    return codename ? { namespace: debianNamespace(codename), channel: undefined } : undefined;
  }
  if (family === "ubuntu") {
    const rest = parts.slice(1);
    const version = rest.find((p) => /^\d+\.\d+$/.test(p));
    if (!version) return undefined;
    const qualifiers = rest.filter((p) => p !== version && p.toUpperCase() !== "LTS");
    const channel =
      qualifiers.length === 0
        ? undefined
        : ["ubuntu", ...qualifiers.map((q) => q.toLowerCase().replace(/[^a-z0-9]+/g, "-"))].join("-");
    return { namespace: ubuntuNamespace(version), channel };
  }
  if (family === "alpine") {
    const ns = parts[1] ? alpineNamespace(parts[1]) : undefined;
    return ns ? { namespace: ns, channel: undefined } : undefined;
  }
  if (family === "wolfi") return { namespace: WOLFI_NAMESPACE, channel: undefined };
  const ns = rpmEcosystemNamespace(family ?? "", parts.slice(1));
  return ns ? { namespace: ns, channel: undefined } : undefined;
}

function rpmEcosystemNamespace(family: string, rest: readonly string[]): Namespace | undefined {
  if (family === "almalinux") return rpmMajorNamespace("almalinux", rest[0] ?? "");
  if (family === "rocky linux") return rpmMajorNamespace("rocky", rest[0] ?? "");
  if (family === "red hat") {
    const m = /^enterprise_linux$/.exec(rest[0] ?? "");
    return m ? rpmMajorNamespace("rhel", rest[1] ?? "") : undefined;
  }
  if (family === "opensuse") {
    const m = /^Leap (\d+\.\d+)$/i.exec(rest[0] ?? "");
    return m ? `opensuse-leap:${m[1]}` : undefined;
  }
  if (family === "suse") {
    const m = /^Linux Enterprise Server (\d+)(?: SP(\d+))?$/i.exec(rest[0] ?? "");
    return m ? `sles:${m[1]}.${m[2] ?? "0"}` : undefined;
  }
  return undefined;
}
