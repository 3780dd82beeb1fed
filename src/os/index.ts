export { detectOs, type OsFiles, osFamily, UNKNOWN_OS } from "./detect.js";
export { parseOsRelease } from "./os-release.js";
export { DEBIAN_CODENAMES, debianCodename } from "./releases.js";
export type { OsFamily, OsInfo } from "./types.js";
