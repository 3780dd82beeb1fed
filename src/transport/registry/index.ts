/** The registry transport: read and write images over the OCI distribution API. */

export { CA_ENV_VARS } from "../../util/http/dispatcher.js";
export { type ClientRequest, RegistryClient } from "./client.js";
export { isLoopbackHost } from "./endpoint.js";
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_TIMEOUT_MS,
  type RegistryOptions,
} from "./options.js";
export {
  type ArtifactToAttach,
  type AttachResult,
  artifactManifest,
  attachArtifact,
  EMPTY_DESCRIPTOR,
  type ListReferrersOptions,
  listReferrers,
  type ReferrersList,
  referrersTag,
} from "./referrers.js";
export { RegistrySink, registrySink } from "./sink.js";
export {
  getManifest,
  headManifest,
  headManifestWith,
  type ManifestHead,
  openRegistryImage,
  RegistrySource,
  registrySource,
} from "./source.js";
export { type ListTagsOptions, listTags, nextLink } from "./tags.js";
