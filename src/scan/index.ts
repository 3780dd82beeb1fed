/** Scanning: inventory × vulnerability database → findings; report import; output. */
export { type ImageInventory, type ImageSpec, inventoryForImage } from "./image.js";
export { evaluateRecord, type ScanOptions, scanInventory } from "./matcher.js";
export { formatScanJson, scanResultToJson } from "./output/json.js";
export { formatScanTable } from "./output/table.js";
export { namespaceForOs, type ReleaseMatch } from "./release.js";
export {
  COPA_API_VERSIONS,
  type ImportCounts,
  type ImportOptions,
  importCopa,
  importReport,
  importReportDocument,
} from "./report/index.js";
export { sortFindings, summarize } from "./summary.js";
export * from "./types.js";
