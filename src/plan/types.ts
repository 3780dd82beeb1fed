import type { SuiteKind } from "./suites.js";

export type { SuiteKind };

/**
 * What to fix: one finding of a scan (or a grype/trivy report), reduced to what planning needs.
 * Debian/Ubuntu vulnerability data is keyed by SOURCE package and source version; scanner
 * reports often name the binary package and its version instead. Give one of the two names.
 */
export interface UpgradeTarget {
  /** Source package name (Debian security tracker, OSV). */
  readonly sourceName?: string | undefined;
  /** Binary package name (grype/trivy report). */
  readonly package?: string | undefined;
  /**
   * Lowest fixed version: a SOURCE version for `sourceName` targets, a binary version for
   * `package` targets. Undefined: the newest version the release's suites offer.
   */
  readonly fixedVersion?: string | undefined;
  readonly vulnerabilityIds: readonly string[];
}

/** `targets`: fix the given findings. `all`: every installed package with a newer version in the security/updates suites. */
export type PlanMode = "targets" | "all";

/** Why a package is in the plan. */
export type UpdateReason = "target" | "lockstep" | "dependency";

/** Where a planned .deb comes from. */
export interface PlannedArtifact {
  readonly suite: string;
  readonly suiteKind: SuiteKind;
  readonly component: string;
  /** Path relative to the archive root, as in the Packages index. */
  readonly filename: string;
  /** Full download URL (mirror configuration applied). */
  readonly url: string;
  readonly size: number;
  /** Hex SHA-256 of the file; "" when the repository index has none (apk). */
  readonly sha256: string;
  /** The index's own package checksum when it has no SHA-256 (apk `C:`: `Q1` + base64 SHA-1 of the control segment). */
  readonly checksum?: string | undefined;
}

export interface PlannedUpdate extends PlannedArtifact {
  /** As reports show it: the name, with `:arch` for a dpkg package of a foreign architecture. */
  readonly package: string;
  /** The name as the package file and the package database say it. */
  readonly name: string;
  /** The new version's architecture. */
  readonly architecture: string;
  /**
   * The architecture of the installed package it upgrades: another one when the new version
   * changes it (dpkg amd64 → all, rpm x86_64 → noarch); the layer replaces that record.
   */
  readonly installedArchitecture: string;
  readonly installedVersion: string;
  readonly targetVersion: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly vulnerabilityIds: readonly string[];
  readonly reason: UpdateReason;
  /** For `dependency` (and lockstep) updates: the packages whose new versions require it. */
  readonly requiredBy: readonly string[];
  /** Other installed packages the new version obsoletes (rpm `Obsoletes:`); the layer removes them. */
  readonly replaces?: readonly string[] | undefined;
}

/** A package that is not installed but that a planned version depends on. */
export interface PlannedNewPackage extends PlannedArtifact {
  /** As reports show it (see PlannedUpdate.package). */
  readonly package: string;
  /** The name as the package file and the package database say it. */
  readonly name: string;
  readonly architecture: string;
  readonly targetVersion: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly requiredBy: readonly string[];
  /** Installed packages this one obsoletes and replaces (rpm `Obsoletes:`); the layer removes them. */
  readonly replaces?: readonly string[] | undefined;
}

/** A package that would be upgraded but is on hold in the image (`InstalledPackage.held`). */
export interface HeldPackage {
  readonly package: string;
  readonly architecture: string;
  readonly installedVersion: string;
  readonly candidateVersion: string | undefined;
  readonly vulnerabilityIds: readonly string[];
}

/** A package that cannot be brought to a fixed version, and why. */
export interface UnresolvedPackage {
  readonly package: string;
  readonly architecture: string | undefined;
  readonly installedVersion: string | undefined;
  readonly reason: string;
  readonly vulnerabilityIds: readonly string[];
}

export interface Plan {
  readonly mode: PlanMode;
  readonly updates: readonly PlannedUpdate[];
  readonly newPackages: readonly PlannedNewPackage[];
  readonly held: readonly HeldPackage[];
  readonly unresolved: readonly UnresolvedPackage[];
  /** Sum of the .deb sizes of updates and new packages. */
  readonly downloadSize: number;
  readonly warnings: readonly string[];
}
