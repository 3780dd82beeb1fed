/** The dpkg database changes of a package upgrade, computed the way dpkg itself would write them. */
export {
  type ConffileDecision,
  formatStatusConffiles,
  parseStatusConffiles,
} from "./conffiles.js";
export { collectContents, listPath, PackageContents } from "./contents.js";
export { formatDependencyField } from "./dependency-format.js";
export {
  DPKG_INFO_DIR,
  type InfoFile,
  infoBaseName,
  md5sumsFile,
} from "./info-files.js";
export { rewriteStatusFile, type StatusReplacement, statusDFiles } from "./status-file.js";
export { type UpgradeDbChanges, upgradeDbChanges } from "./upgrade.js";
