import { join } from "node:path";
import { OcipatchError } from "../errors.js";
import { parseByteSize } from "../util/byte-size.js";
import { cacheDir } from "../util/paths.js";
import { BUILD_ID } from "../version.js";

/**
 * One of the caches of this build's results, `make(dir, buildId, limit)` in `<cache>/<sub>`, unless
 * `enabled` is false or its size limit (`size.env`, else `size.dflt`) is 0. Only the bundled CLI has
 * them: its build ID names the code that wrote an entry.
 */
export function buildCacheFor<T>(
  env: NodeJS.ProcessEnv,
  enabled: boolean,
  sub: string,
  size: { readonly env: string; readonly dflt: number },
  make: (dir: string, buildId: string, limit: number) => T,
): T | undefined {
  const limit = cacheSizeFromEnv(env, size.env, size.dflt);
  return enabled && limit > 0 && BUILD_ID !== undefined
    ? make(join(cacheDir(env), sub), BUILD_ID, limit)
    : undefined;
}

/** A cache's size limit from the environment variable `name` ("2GiB", "500MB", 0: no cache), else `dflt`. */
export function cacheSizeFromEnv(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const text = env[name];
  if (text === undefined || text === "") return dflt;
  const bytes = parseByteSize(text);
  if (bytes === undefined)
    throw new OcipatchError(
      "USAGE",
      `${name} must be a size such as 2GiB, 500MB or 0 (no cache), not "${text.slice(0, 40)}"`,
    );
  return bytes;
}
