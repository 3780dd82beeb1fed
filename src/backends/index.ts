/** Package backends: one per package format, behind one interface. */
export { type DetectedBackend, detectBackend, knownDatabases } from "./detect.js";
export * from "./dpkg/index.js";
export {
  BACKENDS,
  backendById,
  backendCapturePatterns,
  backendFileSummaries,
} from "./registry.js";
export type * from "./types.js";
