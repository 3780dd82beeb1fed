/** ocipatch library API. The CLI (src/cli) is a thin layer over these exports. */

export * from "./backends/index.js";
export * from "./config/index.js";
export * from "./errors.js";
export * from "./fleet/index.js";
export * from "./image/index.js";
export * from "./inventory/index.js";
export * from "./os/index.js";
export * from "./plan/index.js";
export * from "./reference/index.js";
export * from "./report/index.js";
export * from "./rootfs/index.js";
export * from "./sbom/index.js";
export {
  type Finding,
  type FixState,
  formatScanJson,
  formatScanTable,
  type ImageInventory,
  type ImageSpec,
  importCopa,
  importReport,
  importReportDocument,
  inventoryForImage,
  SCAN_SCHEMA_VERSION,
  type ScanResult,
  type ScanSummary,
  type Severity,
  scanInventory,
} from "./scan/index.js";
export { type CopyOptions, type CopyResult, copyImage } from "./transport/copy.js";
export {
  connectEngine,
  EngineClient,
  type EngineEndpoint,
  engineEndpoints,
} from "./transport/docker-daemon/index.js";
export {
  formatImageLocation,
  type ImageLocation,
  openImage,
  openLocation,
  openSink,
  parseImageLocation,
  resolveLocation,
  type TransportOptions,
} from "./transport/index.js";
export {
  type ConfigSummary,
  type ImageInspection,
  type ImageSummary,
  type InspectOptions,
  inspectImage,
  type LayerSummary,
  type PlatformEntry,
} from "./transport/inspect.js";
export {
  type ArtifactToAttach,
  type AttachResult,
  attachArtifact,
  type ListReferrersOptions,
  listReferrers,
  type ReferrersList,
  referrersTag,
} from "./transport/registry/referrers.js";
export { type ListTagsOptions, listTags } from "./transport/registry/tags.js";
export * from "./util/digest.js";
export type { ProgressListener } from "./util/progress.js";
export { VERSION } from "./version.js";
export {
  type DatabaseMetadata,
  type DatabaseStatus,
  databaseStatus,
  defaultDbDir,
  openDatabaseForScan,
  type UpdateOptions,
  type UpdateResult,
  updateDatabase,
  VulnDatabase,
} from "./vulndb/index.js";
