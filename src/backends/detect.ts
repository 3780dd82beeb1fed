import { isOcipatchError } from "../errors.js";
import { BACKENDS } from "./registry.js";
import type { BackendFiles, PackageBackend, PackageManager } from "./types.js";

/** The subset of the filesystem view detection needs. */
type DetectFiles = Pick<BackendFiles, "stat">;

export interface DetectedBackend {
  /** The backend whose database is present (registration order first), or "none". */
  readonly packageManager: PackageManager;
  /** That backend; undefined when none is found. */
  readonly backend: PackageBackend | undefined;
  /** Database paths found (files or directories). */
  readonly databases: readonly string[];
  /** Package manager programs found (after resolving symlinks such as /bin -> usr/bin). */
  readonly binaries: readonly string[];
  /** A package database but no package manager program (e.g. Google distroless). */
  readonly distroless: boolean;
}

/** Every database path any known format uses, for "looked for ..." messages. */
export function knownDatabases(): string[] {
  return BACKENDS.flatMap((f) => f.databases);
}

/** Find the package database, its backend, and whether any package manager program is installed. */
export async function detectBackend(fs: DetectFiles): Promise<DetectedBackend> {
  let found: PackageBackend | undefined;
  const databases: string[] = [];
  const binaries: string[] = [];
  for (const format of BACKENDS) {
    for (const p of format.databases) {
      if (!(await statOrUndefined(fs, p))) continue;
      databases.push(p);
      found ??= format;
    }
    for (const p of format.binaries) {
      const st = await statOrUndefined(fs, p);
      if (st?.type === "file" && !binaries.includes(st.path)) binaries.push(st.path);
    }
  }
  return {
    packageManager: found?.id ?? "none",
    backend: found,
    databases,
    binaries,
    distroless: binaries.length === 0,
  };
}

/** stat that treats unresolvable paths (symlink loops) as missing. */
async function statOrUndefined(fs: DetectFiles, p: string) {
  try {
    return await fs.stat(p);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}
