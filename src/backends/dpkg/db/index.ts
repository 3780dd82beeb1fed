export {
  DPKG_STATUS,
  DPKG_STATUS_D,
  type DpkgFiles,
  type DpkgInventory,
  isStatusDRecordFile,
  readDpkgInventory,
  readStatusD,
} from "./database.js";
export {
  countsAsInstalled,
  type DpkgStatus,
  type DpkgStatusResult,
  ERROR_FLAGS,
  type ErrorFlag,
  PACKAGE_STATES,
  type PackageState,
  type ParseDpkgStatusOptions,
  parseDpkgStatus,
  parseSourceField,
  parseStatusField,
  WANT_STATES,
  type WantState,
} from "./status.js";
