/** The dpkg backend's library API: apt repositories, the dpkg database, the apt planner. */
export * from "./apt/index.js";
export { dpkgBackend } from "./backend.js";
export * from "./db/index.js";
export { type DpkgRecord, dpkgRecord } from "./db/record.js";
export {
  APT_FILE_LOCATIONS,
  type PlanForImageInput,
  type PlanForImageResult,
  planForImage,
} from "./plan/plan-for-image.js";
export { NeedMoreIndices, type PlanInput, planUpgrades } from "./plan/planner.js";
export { type PackageUniverse, universeFromIndices } from "./plan/universe.js";
