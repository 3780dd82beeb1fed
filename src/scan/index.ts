/** Scanning: inventory × vulnerability database → findings; report import; output. */
export { type ImageInventory, type ImageSpec, inventoryForImage } from "./image.js";
export { scanInventory } from "./matcher.js";
export { formatScanJson } from "./output/json.js";
export { formatScanTable } from "./output/table.js";
export {
  importCopa,
  importReport,
  importReportDocument,
} from "./report/index.js";
export * from "./types.js";
