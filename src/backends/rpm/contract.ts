/**
 * The package-backend contract of issue 11, as announced (docs: backend-contract). It is not
 * on main yet: this file mirrors its shapes so the RPM backend can be written and tested now.
 * When `src/backends/types.ts` and the neutral `InstalledPackage` land, delete this file and
 * import from there instead (the shapes are the same).
 */
import type { LayeredFs } from "../../rootfs/layered-fs.js";

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
