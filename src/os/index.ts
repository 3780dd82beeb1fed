export { detectOs, type OsFiles, osFamily, UNKNOWN_OS } from "./detect.js";
export { parseOsRelease } from "./os-release.js";
export {
  detectPackageManager,
  PACKAGE_DATABASES,
  PACKAGE_MANAGER_BINARIES,
  type PackageManagerFiles,
  type PackageManagerInfo,
} from "./package-manager.js";
export { DEBIAN_CODENAMES, debianCodename } from "./releases.js";
export type { OsFamily, OsInfo, PackageManager } from "./types.js";
