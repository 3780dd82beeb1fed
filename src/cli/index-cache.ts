import { join } from "node:path";
import { DEFAULT_INDEX_CACHE_BYTES, LayerIndexCache } from "../rootfs/index-cache.js";
import { cacheDir } from "../util/paths.js";
import { BUILD_ID } from "../version.js";
import { cacheSizeFromEnv } from "./cache-size.js";

/** Environment variable with the size limit of the index cache ("1GiB"; 0 turns the cache off). */
export const INDEX_CACHE_SIZE_ENV = "OCIPATCH_INDEX_CACHE_SIZE";

/**
 * The cache of image layers' indexes (`<cache>/layer-index`), unless `enabled` is false or a size
 * limit of 0. Only the bundled CLI has one: its build ID names the code that indexed a layer.
 */
export function indexCacheFor(env: NodeJS.ProcessEnv, enabled: boolean): LayerIndexCache | undefined {
  const limit = cacheSizeFromEnv(env, INDEX_CACHE_SIZE_ENV, DEFAULT_INDEX_CACHE_BYTES);
  return enabled && limit > 0 && BUILD_ID !== undefined
    ? new LayerIndexCache(join(cacheDir(env), "layer-index"), BUILD_ID, limit)
    : undefined;
}
