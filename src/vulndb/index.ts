/** Vulnerability database: feeds → SQLite, and read access for the matcher. */
export { type FetchOptions, type FetchOutcome, fetchFeedLocation } from "./fetch.js";
export { databasePath, defaultDbDir } from "./location.js";
export {
  alpineNamespace,
  debianNamespace,
  namespaceForEcosystem,
  schemeOf,
  ubuntuNamespace,
  type VersionScheme,
} from "./namespace.js";
export {
  cvss3BaseScore,
  parseSeverityName,
  severityFromUrgency,
  severityRank,
  worseSeverity,
} from "./severity.js";
export { FEEDS, type FeedDefinition, feedByName } from "./sources/index.js";
export {
  type DatabaseStatus,
  databaseStatus,
  type EnsureOptions,
  type FeedSummary,
  formatAge,
  openDatabaseForScan,
  STALE_AFTER_MS,
} from "./status.js";
export { type StoredRecord, VulnDatabase } from "./store/database.js";
export { SCHEMA_VERSION } from "./store/schema.js";
export * from "./types.js";
export {
  type LocationOutcome,
  type LocationResult,
  type UpdateOptions,
  type UpdateResult,
  updateDatabase,
} from "./update.js";
export { comparatorFor, type VersionComparator } from "./versioning/index.js";
