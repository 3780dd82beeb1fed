/** Vulnerability database: feeds → SQLite, and read access for the matcher. */
export { defaultDbDir } from "./location.js";
export { feedByName } from "./sources/index.js";
export {
  type DatabaseStatus,
  databaseStatus,
  formatAge,
  openDatabaseForScan,
  STALE_AFTER_MS,
} from "./status.js";
export { VulnDatabase } from "./store/database.js";
export * from "./types.js";
export {
  type UpdateOptions,
  type UpdateResult,
  updateDatabase,
} from "./update.js";
