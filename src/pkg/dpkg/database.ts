import { isOcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type { LayeredFs } from "../../rootfs/index.js";
import { parseDpkgStatus } from "./status.js";

export const DPKG_STATUS = "/var/lib/dpkg/status";
export const DPKG_STATUS_D = "/var/lib/dpkg/status.d";

/** The subset of the filesystem view the dpkg reader needs. */
export type DpkgFiles = Pick<LayeredFs, "stat" | "readFile" | "readdir">;

export interface DpkgInventory {
  /** Installed packages: `status` first, then `status.d` files in name order. */
  readonly packages: InstalledPackage[];
  readonly warnings: string[];
  /** Files the packages were read from. */
  readonly files: string[];
}

/** A file of `status.d` that holds package records (not `*.md5sums`, not hidden or temporary files). */
export function isStatusDRecordFile(name: string): boolean {
  return (
    !name.endsWith(".md5sums") && !name.startsWith(".") && !name.endsWith("~") && !name.endsWith(".dpkg-new")
  );
}

async function statQuiet(fs: DpkgFiles, p: string) {
  try {
    return await fs.stat(p);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}

/**
 * Read the packages of distroless-style `status.d`: one file per package (or
 * several records per file), without Status fields.
 */
export async function readStatusD(fs: DpkgFiles, dir = DPKG_STATUS_D): Promise<DpkgInventory> {
  const packages: InstalledPackage[] = [];
  const warnings: string[] = [];
  const files: string[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!isStatusDRecordFile(name)) continue;
    const path = `${dir}/${name}`;
    const st = await statQuiet(fs, path);
    if (st?.type !== "file") {
      if (st?.type !== "directory") warnings.push(`${path}: not a regular file; ignored`);
      continue;
    }
    const text = (await fs.readFile(path)).toString("utf8");
    const r = parseDpkgStatus(text, path, { assumeInstalled: true });
    if (r.packages.length === 0 && r.warnings.length === 0)
      warnings.push(`${path}: no package record in this status.d file`);
    packages.push(...r.packages);
    warnings.push(...r.warnings);
    files.push(path);
  }
  return { packages, warnings, files };
}

/**
 * Read the dpkg database of an image: `/var/lib/dpkg/status` and/or the
 * distroless `/var/lib/dpkg/status.d/`. Returns undefined when neither exists.
 * A package present in both keeps its `status` record.
 */
export async function readDpkgInventory(fs: DpkgFiles): Promise<DpkgInventory | undefined> {
  const status = await statQuiet(fs, DPKG_STATUS);
  const statusD = await statQuiet(fs, DPKG_STATUS_D);
  const hasStatus = status?.type === "file";
  const hasStatusD = statusD?.type === "directory";
  if (!hasStatus && !hasStatusD) return undefined;
  const packages: InstalledPackage[] = [];
  const warnings: string[] = [];
  const files: string[] = [];
  const seen = new Set<string>();
  if (hasStatus) {
    const r = parseDpkgStatus((await fs.readFile(DPKG_STATUS)).toString("utf8"), DPKG_STATUS);
    for (const p of r.packages) seen.add(`${p.name}:${p.architecture}`);
    packages.push(...r.packages);
    warnings.push(...r.warnings);
    files.push(DPKG_STATUS);
  }
  if (hasStatusD) {
    const r = await readStatusD(fs);
    for (const p of r.packages) {
      const key = `${p.name}:${p.architecture}`;
      if (seen.has(key)) continue;
      seen.add(key);
      packages.push(p);
    }
    warnings.push(...r.warnings);
    files.push(...r.files);
  }
  return { packages, warnings, files };
}
