/** The patch layer builder: verified .debs → ONE OCI layer, as `dpkg --force-confold -i` would leave the image. */
export { buildPatchLayer } from "./build.js";
export { type PathFilter, parsePathFilters, readPathFilters, shouldSkip } from "./dpkg-filters.js";
export type { BuildPatchLayerResult, KeptConffile, PatchedPackage } from "./types.js";
