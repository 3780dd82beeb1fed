/** Patch planning: which installed packages go to which versions, from the release's signed repositories. */

export {
  APT_FILE_LOCATIONS,
  type PlanForImageInput,
  type PlanForImageResult,
  planForImage,
} from "../backends/dpkg/plan/plan-for-image.js";
export { NeedMoreIndices, type PlanInput, planUpgrades } from "../backends/dpkg/plan/planner.js";
export { type PackageUniverse, universeFromIndices } from "../backends/dpkg/plan/universe.js";
export { formatSize, type PlanFormat, renderPlan, renderPlanJson, renderPlanTable } from "./format.js";
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
