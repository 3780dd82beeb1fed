import { join } from "node:path";
import { BuiltLayerCache, DEFAULT_LAYER_CACHE_BYTES } from "../patch/built-layer-cache.js";
import { cacheDir } from "../util/paths.js";
import { BUILD_ID } from "../version.js";
import { cacheSizeFromEnv } from "./cache-size.js";

/** Environment variable with the size limit of the layer cache ("2GiB"; 0 turns the cache off). */
export const LAYER_CACHE_SIZE_ENV = "OCIPATCH_LAYER_CACHE_SIZE";

/**
 * The cache of built patch layers (`<cache>/layers`), unless `--no-layer-cache` or a size limit
 * of 0. Only the bundled CLI has one: its build ID names the code a stored layer was built by.
 */
export function layerCacheFor(env: NodeJS.ProcessEnv, enabled: boolean): BuiltLayerCache | undefined {
  const limit = layerCacheLimit(env);
  return enabled && limit > 0 && BUILD_ID !== undefined
    ? new BuiltLayerCache(join(cacheDir(env), "layers"), BUILD_ID, limit)
    : undefined;
}

/** The size limit of the layer cache's blobs: `OCIPATCH_LAYER_CACHE_SIZE`, else 1 GiB. */
export function layerCacheLimit(env: NodeJS.ProcessEnv): number {
  return cacheSizeFromEnv(env, LAYER_CACHE_SIZE_ENV, DEFAULT_LAYER_CACHE_BYTES);
}
