import type { PackageManager } from "../backends/types.js";
import type { OsInfo } from "../os/types.js";

/** One installed binary package: the fields every package format has, plus its backend's own record. */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** Source package name (dpkg `Source:`, apk origin, source rpm) or the binary name. */
  readonly sourceName: string;
  /** Source version (vulnerability data compares it), or the binary version. */
  readonly sourceVersion: string;
  /** Kept at its version by the package manager (dpkg `hold`). */
  readonly held: boolean;
  /** The database file the record lives in (`/var/lib/dpkg/status`, `/var/lib/dpkg/status.d/<file>`...). */
  readonly dbPath: string;
  /** The backend's own parsed record; only that backend reads it. */
  readonly native: unknown;
}

/** What an image has installed, as read from its package database. */
export interface Inventory {
  readonly os: OsInfo;
  readonly packageManager: PackageManager;
  /** No package manager binary (dpkg/apt, apk...) in the image, e.g. distroless. */
  readonly distroless: boolean;
  readonly packages: readonly InstalledPackage[];
  /** Non-fatal problems met while reading (malformed records...). */
  readonly warnings: readonly string[];
}
