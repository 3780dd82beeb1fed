/**
 * The package-backend contract (issue 11), as announced in the backend contract note.
 * TEMPORARY: main does not have `src/backends/types.ts` / `src/inventory/types.ts` in the new shape
 * yet. When it lands, the merger replaces this file by re-exports of those types; nothing else in
 * this folder needs to change.
 */
import type { LayeredFs } from "../../rootfs/index.js";

/** One installed binary package, distribution-neutral (the backend's own record in `native`). */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly held: boolean;
  readonly dbPath: string;
  readonly native: unknown;
}

export type BackendId = "dpkg" | "apk" | "rpm";

/** The read-only image view a backend gets (a subset of rootfs/LayeredFs). */
export type BackendFiles = Pick<LayeredFs, "stat" | "lstat" | "readFile" | "readdir" | "description">;

export interface InventoryRead {
  readonly packages: InstalledPackage[];
  readonly warnings: string[];
}

export interface PackageBackend {
  readonly id: BackendId;
  readonly displayName: string;
  readonly databases: readonly string[];
  readonly binaries: readonly string[];
  readonly capturePatterns: readonly string[];
  readInventory(fs: BackendFiles): Promise<InventoryRead | undefined>;
  compareVersions(a: string, b: string): number;
  readonly purlType: string;
  properties?(pkg: InstalledPackage): Readonly<Record<string, string>>;
}
