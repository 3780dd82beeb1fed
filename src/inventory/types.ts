import type { OsInfo } from "../os/types.js";

/** The package formats ocipatch knows; each one has a backend (a folder under `backends/`). */
export type BackendId = "dpkg" | "apk" | "rpm";

/** Which package manager an image has: a backend's id, or none found. */
export type PackageManager = BackendId | "none";

/** One installed binary package: the fields every package format has, plus its backend's own record. */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** Source package name (Debian `Source:`, apk origin, source rpm) or the binary name. */
  readonly sourceName: string;
  /** Source version (vulnerability data compares it), or the binary version. */
  readonly sourceVersion: string;
  /** Kept at its version by the package manager (a hold or pin). */
  readonly held: boolean;
  /** The package database file the record lives in. */
  readonly dbPath: string;
  /** The backend's own parsed record; only that backend reads it. */
  readonly native: unknown;
}

/** What an image has installed, as read from its package database. */
export interface Inventory {
  readonly os: OsInfo;
  readonly packageManager: PackageManager;
  /** No package manager program in the image, e.g. distroless. */
  readonly distroless: boolean;
  readonly packages: readonly InstalledPackage[];
  /** Non-fatal problems met while reading (malformed records...). */
  readonly warnings: readonly string[];
}
