import type { InstalledPackage } from "../inventory/types.js";
import type { LayeredFs } from "../rootfs/index.js";

/** The package formats ocipatch knows; each one has a folder under `backends/`. */
export type BackendId = "dpkg" | "apk" | "rpm";

/** Which package manager an image has: a backend's id, or none found. */
export type PackageManager = BackendId | "none";

/** The read-only image view a backend gets. */
export type BackendFiles = Pick<LayeredFs, "stat" | "lstat" | "readFile" | "readdir" | "description">;

/** What a backend read from an image's package database. */
export interface InventoryRead {
  readonly packages: InstalledPackage[];
  /** Non-fatal problems (malformed records...). */
  readonly warnings: string[];
}

/**
 * Everything distribution-specific about one package format. The pipeline (inventory, scan,
 * patch, reports, CLI) only talks to this; a new distribution is one folder under `backends/`
 * and one line in `registry.ts`.
 */
export interface PackageBackend {
  readonly id: BackendId;
  /** For messages: "dpkg", "Alpine apk", "RPM". */
  readonly displayName: string;
  /** Package database paths (files or directories) whose presence selects this backend. */
  readonly databases: readonly string[];
  /** The package manager's programs; an image with a database but none of these is "distroless". */
  readonly binaries: readonly string[];
  /** Globs (rootfs capture syntax, no leading slash) of the small files the backend reads: database, repositories, keys. */
  readonly capturePatterns: readonly string[];
  /** The installed packages; undefined when the database is absent. */
  readInventory(fs: BackendFiles): Promise<InventoryRead | undefined>;
  /** The format's version order: negative, zero or positive. */
  compareVersions(a: string, b: string): number;
  /** Package URL type: "deb", "apk", "rpm". */
  readonly purlType: string;
  /** purl namespace when the OS is unknown ("debian"); otherwise the OS id. */
  readonly fallbackNamespace: string;
  /** Extra SBOM properties of a package (name → value), e.g. dpkg's multi-arch. */
  properties?(pkg: InstalledPackage): Readonly<Record<string, string>>;
}
