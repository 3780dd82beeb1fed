import type { InstalledPackage, Inventory } from "../inventory/types.js";
import type { OsInfo, PackageManager } from "../os/types.js";
import { debPurl } from "./purl.js";

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
  readonly multiArch: string | undefined;
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

function toSbomPackage(p: InstalledPackage, os: OsInfo): SbomPackage {
  return {
    name: p.name,
    version: p.version,
    sourceName: p.sourceName,
    sourceVersion: p.sourceVersion,
    architecture: p.architecture,
    multiArch: p.multiArch,
    purl: debPurl(p, os),
  };
}

export function buildSbom(subject: SbomSubject, inv: Inventory): SbomDocument {
  const packages = inv.packages
    .map((p) => toSbomPackage(p, inv.os))
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
