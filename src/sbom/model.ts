import { backendById } from "../backends/registry.js";
import type { PackageBackend, PackageManager } from "../backends/types.js";
import type { InstalledPackage, Inventory } from "../inventory/types.js";
import type { OsInfo } from "../os/types.js";
import { installedPurl } from "./purl.js";

/** What the SBOM is about. */
export interface SbomSubject {
  /** How the user named the image (reference or transport string). */
  readonly name: string;
  /** Manifest digest of the (single-platform) image. */
  readonly digest?: string | undefined;
  /** "linux/amd64". */
  readonly platform?: string | undefined;
}

export interface SbomPackage {
  readonly name: string;
  readonly version: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly architecture: string;
  /** The package URL type ("deb", "apk", "rpm"). */
  readonly type: string;
  /** Format-specific facts from the backend (`PackageBackend.properties`). */
  readonly properties: Readonly<Record<string, string>>;
  readonly purl: string;
}

/** The format-independent content of an SBOM. */
export interface SbomDocument {
  readonly subject: SbomSubject;
  readonly os: OsInfo;
  readonly packageManager: PackageManager;
  readonly distroless: boolean;
  /** Sorted by name, then architecture. */
  readonly packages: readonly SbomPackage[];
  readonly warnings: readonly string[];
}

function toSbomPackage(p: InstalledPackage, os: OsInfo, backend: PackageBackend): SbomPackage {
  return {
    name: p.name,
    version: p.version,
    sourceName: p.sourceName,
    sourceVersion: p.sourceVersion,
    architecture: p.architecture,
    type: backend.purlType,
    properties: backend.properties?.(p) ?? {},
    purl: installedPurl(backend, p, os),
  };
}

export function buildSbom(subject: SbomSubject, inv: Inventory): SbomDocument {
  const backend = inv.packageManager === "none" ? undefined : backendById(inv.packageManager);
  const packages = (backend ? inv.packages : [])
    .map((p) => toSbomPackage(p, inv.os, backend!))
    .sort((a, b) => (a.name === b.name ? cmp(a.architecture, b.architecture) : cmp(a.name, b.name)));
  return {
    subject,
    os: inv.os,
    packageManager: inv.packageManager,
    distroless: inv.distroless,
    packages,
    warnings: inv.warnings,
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
