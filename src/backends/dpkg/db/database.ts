import { isOcipatchError, OcipatchError, oneLine } from "../../../errors.js";
import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import { appendAll } from "../../../util/streams.js";

import { DPKG_STATUS, DPKG_STATUS_D } from "./paths.js";
import { parseDpkgStatus } from "./status.js";

export { DPKG_STATUS, DPKG_STATUS_D };

/** The subset of the filesystem view the dpkg reader needs. */
export type DpkgFiles = Pick<LayeredFs, "stat" | "lstat" | "readFile" | "readdir">;

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
 * Does the database path exist as what dpkg expects? Missing (nothing at the path): false. Present
 * but of another type (a directory named `status`, a file named `status.d`, a FIFO, a dangling or
 * looping symlink): an error — an image whose package database cannot be read is never "clean".
 */
async function present(fs: DpkgFiles, path: string, want: "file" | "directory"): Promise<boolean> {
  const link = await lstatQuiet(fs, path);
  if (link === undefined) return false;
  let st: Awaited<ReturnType<DpkgFiles["stat"]>>;
  try {
    st = await fs.stat(path);
  } catch (e) {
    if (!isOcipatchError(e, "NOT_FOUND")) throw e;
    throw unreadable(path, `it cannot be resolved (${oneLine(e)})`);
  }
  if (st === undefined) throw unreadable(path, "it is a symlink to nothing");
  if (st.type !== want)
    throw unreadable(path, `it is a ${st.type}, not a ${want === "file" ? "regular file" : want}`);
  return true;
}

function unreadable(path: string, why: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `cannot read the dpkg database: ${path} exists but ${why}`, {
    details: { path },
  });
}

async function lstatQuiet(fs: DpkgFiles, p: string) {
  try {
    return await fs.lstat(p);
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
    if (st?.type === "directory") continue;
    // a record file that cannot be read would silently drop packages: refuse
    if (st?.type !== "file")
      throw unreadable(path, st ? `it is a ${st.type}, not a regular file` : "it is a symlink to nothing");
    const text = (await fs.readFile(path)).toString("utf8");
    const r = parseDpkgStatus(text, path, { assumeInstalled: true });
    if (r.packages.length === 0 && r.warnings.length === 0)
      warnings.push(`${path}: no package record in this status.d file`);
    appendAll(packages, r.packages);
    appendAll(warnings, r.warnings);
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
  const hasStatus = await present(fs, DPKG_STATUS, "file");
  const hasStatusD = await present(fs, DPKG_STATUS_D, "directory");
  if (!hasStatus && !hasStatusD) return undefined;
  const packages: InstalledPackage[] = [];
  const warnings: string[] = [];
  const files: string[] = [];
  const seen = new Set<string>();
  if (hasStatus) {
    const r = parseDpkgStatus((await fs.readFile(DPKG_STATUS)).toString("utf8"), DPKG_STATUS);
    for (const p of r.packages) seen.add(packageKey(p.name, p.architecture));
    appendAll(packages, r.packages);
    appendAll(warnings, r.warnings);
    files.push(DPKG_STATUS);
  }
  if (hasStatusD) {
    const r = await readStatusD(fs);
    for (const p of r.packages) {
      const key = packageKey(p.name, p.architecture);
      if (seen.has(key)) continue;
      seen.add(key);
      packages.push(p);
    }
    appendAll(warnings, r.warnings);
    appendAll(files, r.files);
  }
  return { packages, warnings, files };
}
