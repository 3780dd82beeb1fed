/** Reports of a patch run: OpenVEX, SARIF, the patch summary, and writing them to disk. */
export { type FixedVulnerability, fixedVulnerabilities } from "./fixed.js";
export {
  buildOpenVex,
  DEFAULT_VEX_AUTHOR,
  formatOpenVex,
  OPENVEX_MEDIA_TYPE,
  type OpenVexInput,
  type UpgradedPackage,
} from "./openvex.js";
export {
  OPENVEX_CONTEXT,
  type OpenVexDocument,
  openVexDocumentSchema,
  parseOpenVex,
  VEX_JUSTIFICATIONS,
  VEX_STATUSES,
  type VexProduct,
  type VexStatement,
} from "./openvex-schema.js";
export {
  buildPatchReport,
  formatPatchReport,
  type ImageIdentity,
  PATCH_REPORT_SCHEMA_VERSION,
  type PatchReport,
  type PatchReportInput,
  parsePatchReport,
  patchReportSchema,
} from "./patch-report.js";
export { ociPurl, type PackageRef, packagePurl } from "./purl.js";
export {
  formatSarif,
  SARIF_MEDIA_TYPE,
  SARIF_SCHEMA,
  SARIF_VERSION,
  type SarifLevel,
  type SarifOptions,
  sarifLevel,
  toSarif,
  vulnerabilityUri,
} from "./sarif.js";
export {
  type ReportKind,
  type ReportsToWrite,
  reportBaseName,
  type WrittenReport,
  writeReports,
} from "./write.js";
