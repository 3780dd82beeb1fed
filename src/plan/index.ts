/** Patch plans, whatever the package format: which installed packages go to which versions, and how a plan is shown. */
export { formatSize, type PlanFormat, renderPlan, renderPlanJson, renderPlanTable } from "./format.js";
export { PLANNED_KINDS, parseSuiteKinds, type SuiteKind } from "./suites.js";
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
