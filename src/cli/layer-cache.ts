import { join } from "node:path";
import { BuiltLayerCache } from "../patch/built-layer-cache.js";
import { cacheDir } from "../util/paths.js";
import { BUILD_ID } from "../version.js";

/**
 * The cache of built patch layers (`<cache>/layers`), unless `--no-layer-cache`. Only the
 * bundled CLI has one: its build ID names the code a stored layer was built by.
 */
export function layerCacheFor(env: NodeJS.ProcessEnv, enabled: boolean): BuiltLayerCache | undefined {
  return enabled && BUILD_ID !== undefined
    ? new BuiltLayerCache(join(cacheDir(env), "layers"), BUILD_ID)
    : undefined;
}
