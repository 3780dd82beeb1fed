import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { AvailablePackage, MultiArch } from "../apt/packages.js";
import { parseMultiArch } from "../apt/packages.js";
import { dpkgRecord } from "../db/record.js";
import {
  constraintAllows,
  formatRelation,
  type Provision,
  parseProvides,
  parseRelations,
  type Relation,
  type RelationGroup,
} from "../debian/relations.js";
import { compareDebianVersions } from "../debian/version.js";

/** One concrete version of a package, installed or available: what dependency checks look at. */
export interface PkgVersion {
  readonly name: string;
  readonly version: string;
  /** As declared (`all` possible). */
  readonly architecture: string;
  readonly multiArch: MultiArch;
  readonly source: string;
  readonly sourceVersion: string;
  readonly depends: readonly RelationGroup[];
  readonly preDepends: readonly RelationGroup[];
  readonly provides: readonly Provision[];
  readonly breaks: readonly RelationGroup[];
  readonly conflicts: readonly RelationGroup[];
  readonly priority: string | undefined;
  /** Set when the version comes from a repository. */
  readonly available: AvailablePackage | undefined;
  /** Set when it is the installed version. */
  readonly installed: InstalledPackage | undefined;
}

export function fromAvailable(p: AvailablePackage): PkgVersion {
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    multiArch: p.multiArch,
    source: p.source,
    sourceVersion: p.sourceVersion,
    depends: p.depends,
    preDepends: p.preDepends,
    provides: p.provides,
    breaks: p.breaks,
    conflicts: p.conflicts,
    priority: p.priority,
    available: p,
    installed: undefined,
  };
}

/** The installed version, from its dpkg status record. Malformed relations are tolerated (warned). */
export function fromInstalled(p: InstalledPackage, warn: (m: string) => void): PkgVersion {
  const rec = dpkgRecord(p);
  const field = (f: string): RelationGroup[] => {
    try {
      return parseRelations(rec.paragraph.get(f), { context: `${p.dbPath}: ${p.name} ${f}` });
    } catch (e) {
      warn((e as Error).message);
      return [];
    }
  };
  let provides: Provision[] = [];
  try {
    provides = parseProvides(rec.paragraph.get("Provides"), `${p.dbPath}: ${p.name} Provides`);
  } catch (e) {
    warn((e as Error).message);
  }
  return {
    name: p.name,
    version: p.version,
    architecture: p.architecture,
    multiArch: parseMultiArch(rec.multiArch ?? rec.paragraph.get("Multi-Arch")),
    source: p.sourceName,
    sourceVersion: p.sourceVersion,
    depends: field("Depends"),
    preDepends: field("Pre-Depends"),
    provides,
    breaks: field("Breaks"),
    conflicts: field("Conflicts"),
    priority: rec.paragraph.get("Priority"),
    available: undefined,
    installed: p,
  };
}

/** The architecture a package counts as: `all` packages are native. */
export function effectiveArch(arch: string, native: string): string {
  return arch === "all" ? native : arch;
}

/** `name:arch` with `all` mapped to the native architecture (dpkg's package instance). */
export function instanceKey(name: string, arch: string, native: string): string {
  return packageKey(name, effectiveArch(arch, native));
}

/** Display name: `name` for native packages, `name:arch` for foreign ones (as apt prints them). */
export function displayName(name: string, arch: string, native: string): string {
  const a = effectiveArch(arch, native);
  return a === native ? name : `${name}:${a}`;
}

/** Multi-Arch rules for a positive dependency: can a package of `pkgArch` satisfy it? */
function archSatisfies(
  qualifier: string | undefined,
  dependerArch: string,
  pkgArch: string,
  multiArch: MultiArch,
  native: string,
): boolean {
  if (qualifier === undefined) return pkgArch === dependerArch || multiArch === "foreign";
  if (qualifier === "any")
    return pkgArch === dependerArch || multiArch === "allowed" || multiArch === "foreign";
  if (qualifier === "native") return pkgArch === native;
  return pkgArch === qualifier;
}

/** Does `pkg` (real name or a Provides) satisfy the positive relation `rel` of a package of `dependerArch`? */
export function satisfies(rel: Relation, dependerArch: string, pkg: PkgVersion, native: string): boolean {
  const pa = effectiveArch(pkg.architecture, native);
  if (pkg.name === rel.name) {
    if (archSatisfies(rel.archQualifier, dependerArch, pa, pkg.multiArch, native)) {
      if (constraintAllows(rel.constraint, pkg.version)) return true;
    }
  }
  for (const pr of pkg.provides) {
    if (pr.name !== rel.name) continue;
    if (!archSatisfies(rel.archQualifier, dependerArch, pa, pkg.multiArch, native)) continue;
    if (constraintAllows(rel.constraint, pr.version)) return true;
  }
  return false;
}

/** Does the negative relation (Breaks/Conflicts) `rel` hit `pkg`? Unqualified, it applies to every architecture. */
export function negativeHits(rel: Relation, pkg: PkgVersion, native: string): boolean {
  const pa = effectiveArch(pkg.architecture, native);
  const archOk = rel.archQualifier === undefined || rel.archQualifier === "any" || rel.archQualifier === pa;
  if (!archOk) return false;
  if (pkg.name === rel.name && constraintAllows(rel.constraint, pkg.version)) return true;
  for (const pr of pkg.provides) {
    if (
      pr.name === rel.name &&
      (rel.constraint === undefined || constraintAllows(rel.constraint, pr.version))
    ) {
      return true;
    }
  }
  return false;
}

export function formatGroup(g: RelationGroup): string {
  return g.map(formatRelation).join(" | ");
}

export const byVersionDesc = (a: { version: string }, b: { version: string }): number =>
  compareDebianVersions(b.version, a.version);

const PRIORITY_ORDER = ["required", "important", "standard", "optional", "extra"];
export function priorityRank(p: string | undefined): number {
  const i = PRIORITY_ORDER.indexOf((p ?? "").toLowerCase());
  return i === -1 ? PRIORITY_ORDER.length : i;
}
