export type { EntryType, FsEntry, LayeredFsStats, LayerReadStats } from "./entry.js";
export { globMatcher } from "./glob.js";
export { DEFAULT_INDEX_CACHE_BYTES, LayerIndexCache } from "./index-cache.js";
export {
  LayeredFs,
  MAX_SYMLINK_HOPS,
  type QueryRecord,
  type ReadFileOptions,
  type Resolved,
  type ResolveOptions,
} from "./layered-fs.js";
export {
  type CaptureOptions,
  DEFAULT_CAPTURE,
  DEFAULT_CAPTURE_PATTERNS,
  DEFAULT_LIMITS,
  type FileSummarizer,
  type LayeredFsOptions,
  type RootfsLimits,
} from "./options.js";
export { joinRel, parentOf } from "./path.js";
export {
  DEFAULT_SHARED_LAYERS_LIMITS,
  type SharedLayer,
  SharedLayers,
  type SharedLayersLimits,
  type SharedLayersStats,
} from "./shared-layers.js";
