import { DEFAULT_INDEX_CACHE_BYTES, LayerIndexCache } from "../rootfs/index-cache.js";
import { buildCacheFor } from "./cache-size.js";

/** Environment variable with the size limit of the index cache ("1GiB"; 0 turns the cache off). */
export const INDEX_CACHE_SIZE_ENV = "OCIPATCH_INDEX_CACHE_SIZE";

/** `scan` and `sbom`: without the index cache (patch's `--no-layer-cache` also builds its layer again). */
export const NO_LAYER_CACHE_OPTION = [
  "--no-layer-cache",
  "read every layer of the image, even one an earlier run indexed",
] as const;

/** The cache of image layers' indexes (`<cache>/layer-index`), unless `enabled` is false or a size limit of 0. */
export function indexCacheFor(env: NodeJS.ProcessEnv, enabled: boolean): LayerIndexCache | undefined {
  const size = { env: INDEX_CACHE_SIZE_ENV, dflt: DEFAULT_INDEX_CACHE_BYTES };
  return buildCacheFor(
    env,
    enabled,
    "layer-index",
    size,
    (dir, id, limit) => new LayerIndexCache(dir, id, limit),
  );
}
