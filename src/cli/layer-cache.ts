import { BuiltLayerCache, DEFAULT_LAYER_CACHE_BYTES } from "../patch/built-layer-cache.js";
import { buildCacheFor } from "./cache-size.js";

/** Environment variable with the size limit of the layer cache ("2GiB"; 0 turns the cache off). */
export const LAYER_CACHE_SIZE_ENV = "OCIPATCH_LAYER_CACHE_SIZE";

/** The cache of built patch layers (`<cache>/layers`), unless `--no-layer-cache` or a size limit of 0. */
export function layerCacheFor(env: NodeJS.ProcessEnv, enabled: boolean): BuiltLayerCache | undefined {
  const size = { env: LAYER_CACHE_SIZE_ENV, dflt: DEFAULT_LAYER_CACHE_BYTES };
  return buildCacheFor(env, enabled, "layers", size, (dir, id, limit) => new BuiltLayerCache(dir, id, limit));
}
