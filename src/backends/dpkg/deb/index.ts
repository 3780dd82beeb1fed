/** Reading .deb packages: the ar container, the control part and the data.tar entries. */
export { AR_MAGIC, type ArMember, type ArMemberHeader, readAr } from "./ar.js";
export { parseConffiles, parseMd5sums } from "./control.js";
export { normaliseDataPath, toDataEntryHeader } from "./data-entry.js";
export { compressionOfMember, type DebCompression } from "./decompress.js";
export { type OpenDebOptions, openDeb, openDebFile } from "./reader.js";
export {
  type ConffileEntry,
  type ControlMember,
  type DataEntry,
  type DataEntryHeader,
  type DataEntryType,
  type DebExpectation,
  type DebPackage,
  MAINTAINER_SCRIPTS,
  type MaintainerScriptName,
} from "./types.js";
