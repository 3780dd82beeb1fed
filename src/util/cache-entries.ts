import { rm } from "node:fs/promises";

/** A cache's entries of other ocipatch builds unused this long are removed (this build can never use them). */
export const OTHER_BUILD_KEPT_MS = 24 * 3600 * 1000;

/** A stored cache entry (a file or a directory), when it was last used and what it takes on disk. */
export interface CacheEntryUse {
  readonly path: string;
  readonly used: number;
  readonly bytes: number;
}

/** Remove the entries used least recently until the others fit `maxBytes`. */
export async function removeLeastRecentlyUsed(
  entries: readonly CacheEntryUse[],
  maxBytes: number,
): Promise<void> {
  let total = 0;
  for (const e of [...entries].sort((a, b) => b.used - a.used)) {
    total += e.bytes;
    if (total > maxBytes) await rm(e.path, { recursive: true, force: true });
  }
}
