/** The registry transport: read and write images over the OCI distribution API. */

export { RegistryClient } from "./client.js";
export type { RegistryOptions } from "./options.js";
export {
  attachArtifact,
  EMPTY_DESCRIPTOR,
  listReferrers,
  referrersTag,
} from "./referrers.js";
export { registrySink } from "./sink.js";
export {
  headManifest,
  openRegistryImage,
  RegistrySource,
} from "./source.js";
