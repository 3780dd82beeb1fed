/** The dpkg database changes of a package upgrade, computed the way dpkg itself would write them. */
export {
  type ConffileAction,
  type ConffileDecision,
  type ConffilePlan,
  type ConffilePlanInput,
  formatStatusConffiles,
  NEW_CONFFILE_HASH,
  parseStatusConffiles,
  planConffiles,
  type StatusConffile,
} from "./conffiles.js";
export { type ContentItem, collectContents, listPath, PackageContents } from "./contents.js";
export { formatDependencyField } from "./dependency-format.js";
export {
  DPKG_INFO_DIR,
  type InfoFile,
  type InfoFilesInput,
  infoBaseName,
  infoFiles,
  listFile,
  md5sumsFile,
  obsoleteInfoFiles,
  packageInfoFiles,
} from "./info-files.js";
export { pathsToRemove, type RemovalInput, type RemovalPlan } from "./removal.js";
export { rewriteStatusFile, type StatusReplacement, statusDFiles } from "./status-file.js";
export {
  DPKG_STATUS_FIELD_ORDER,
  formatStatusRecord,
  type StatusRecordInput,
  statusRecord,
} from "./status-record.js";
export { type UpgradeDbChanges, type UpgradeDbInput, upgradeDbChanges } from "./upgrade.js";
