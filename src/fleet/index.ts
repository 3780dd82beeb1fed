/** Fleet patching: copa's bulk PatchConfig expanded into images, sharded, patched by a bounded pool. */
export {
  COPA_API_VERSION,
  COPA_KIND,
  DEFAULT_TAG_TEMPLATE,
  type FleetConfig,
  type FleetImageSpec,
  isCopaConfig,
  parseConfigText,
  parseFleetConfig,
} from "./config.js";
export { type ExpandedFleet, expandFleet, type FleetJob, targetRepository } from "./expand.js";
export { runPool } from "./pool.js";
export { type FleetEvent, type FleetOutcome, type FleetRun, type RunFleetOptions, runFleet } from "./run.js";
export { type SelectedTags, selectTags, sortTags, type TagLister } from "./select-tags.js";
export { parseShard, type Shard, shardOf } from "./shard.js";
export { type FleetImageResult, formatFleetJson, formatFleetTable } from "./summary.js";
export { parseTagTemplate } from "./template.js";
