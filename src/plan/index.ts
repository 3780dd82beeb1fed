/** Patch planning: which installed packages go to which versions, from the release's signed repositories. */
export { formatSize, type PlanFormat, renderPlan, renderPlanJson, renderPlanTable } from "./format.js";
export {
  APT_FILE_LOCATIONS,
  type PlanForImageInput,
  type PlanForImageResult,
  planForImage,
} from "./plan-for-image.js";
export { NeedMoreIndices, type PlanInput, planUpgrades } from "./planner.js";
export type {
  HeldPackage,
  Plan,
  PlanMode,
  PlannedArtifact,
  PlannedNewPackage,
  PlannedUpdate,
  UnresolvedPackage,
  UpdateReason,
  UpgradeTarget,
} from "./types.js";
export { type PackageUniverse, universeFromIndices } from "./universe.js";
