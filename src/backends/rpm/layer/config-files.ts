import { createHash } from "node:crypto";
import { FILE_FLAG, type RpmFile } from "../header.js";

/**
 * What rpm does with a `%config` file it installs over one on disk (rpmfilesDecideFate):
 *   - nothing on disk, or the disk copy is the old version's untouched file, or already the new
 *     version's → install the new one;
 *   - the disk copy was changed but the package's file did not change → keep the disk copy;
 *   - both changed: `%config(noreplace)` keeps the disk copy and installs the new one as
 *     `.rpmnew`; plain `%config` saves the disk copy as `.rpmsave` and installs the new one;
 *   - a config file the old version did not own but the disk has, different from the new one:
 *     noreplace → `.rpmnew`, plain → the disk copy saved as `.rpmorig`.
 */
type ConfigFate = "create" | "keep" | "rpmnew" | "rpmsave" | "rpmorig";

/** Node's hash names of the OpenPGP hash ids rpm uses for FILEDIGESTALGO. */
const ALGO: Readonly<Record<number, string>> = {
  1: "md5",
  2: "sha1",
  8: "sha256",
  9: "sha384",
  10: "sha512",
  11: "sha224",
};

export function digestOf(algo: number, content: Buffer): string | undefined {
  const name = ALGO[algo];
  return name === undefined ? undefined : createHash(name).update(content).digest("hex");
}

const isRegular = (mode: number) => (mode & 0o170000) === 0o100000;

interface DiskFile {
  readonly type: string;
  /** The disk copy's digest with a given algorithm (regular files). */
  digest(algo: number): Promise<string | undefined>;
}

export async function configFate(
  newFile: RpmFile,
  newAlgo: number,
  oldFile: RpmFile | undefined,
  oldAlgo: number,
  disk: DiskFile | undefined,
): Promise<ConfigFate> {
  if (disk === undefined || !isRegular(newFile.mode)) return "create";
  const noreplace = (newFile.flags & FILE_FLAG.NOREPLACE) !== 0;
  if (oldFile === undefined) {
    if (disk.type === "file" && (await disk.digest(newAlgo)) === newFile.digest) return "create";
    return noreplace ? "rpmnew" : "rpmorig";
  }
  if (!isRegular(oldFile.mode)) return "create";
  if (disk.type === "file") {
    const d = await disk.digest(oldAlgo);
    if (d === undefined || d === oldFile.digest) return "create";
    // the image already has the new version's file (rpmfilesDecideFate: identical in new, replace)
    if ((await disk.digest(newAlgo)) === newFile.digest) return "create";
  }
  if (oldAlgo === newAlgo && oldFile.digest !== "" && oldFile.digest === newFile.digest) return "keep";
  return noreplace ? "rpmnew" : "rpmsave";
}
