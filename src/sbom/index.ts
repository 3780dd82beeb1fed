export {
  type CycloneDxOptions,
  type CycloneDxVersion,
  toCycloneDxBom,
  toCycloneDxJson,
} from "./cyclonedx.js";
export { toSbomJson } from "./json.js";
export { buildSbom, type SbomDocument, type SbomPackage, type SbomSubject } from "./model.js";
export { distroQualifier, formatPurl, installedPurl, type PurlParts, purlEncode } from "./purl.js";
export { toSbomTable } from "./table.js";

export type SbomFormat = "cyclonedx" | "json" | "table";
export const SBOM_FORMATS: readonly SbomFormat[] = ["cyclonedx", "json", "table"];
