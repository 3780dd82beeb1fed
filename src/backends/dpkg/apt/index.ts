/** apt repositories: sources, keyrings, signed Release files and Packages indices. */

export { redactUrl } from "../../../util/http/redact.js";
export { debianArchitecture } from "./architecture.js";
export { AptCache, defaultCacheDir, urlToFileName } from "./cache.js";
export { AptClient, type AptClientOptions, type VerifiedRelease } from "./client.js";
export { hostKeyringFiles, readHostAptSources } from "./host.js";
export { type FetchStats, type HttpOptions, httpGet, newStats } from "./http.js";
export {
  isDefaultKeyringPath,
  type KeyringFiles,
  keyMatches,
  keyringFilesFromList,
  readKeyring,
  type TrustedKey,
  TrustStore,
} from "./keyring.js";
export {
  type AvailablePackage,
  type IndexOrigin,
  type MultiArch,
  PackagesIndex,
  parseMultiArch,
  parsePackagesSourceField,
} from "./packages.js";
export {
  parseRelease,
  parseReleaseDate,
  type ReleaseFileEntry,
  type ReleaseInfo,
  type Signer,
  verifyDetachedRelease,
  verifyInRelease,
} from "./release.js";
export {
  classifySuite,
  type DerivedRepositories,
  type DeriveOptions,
  type Distro,
  debianSecuritySibling,
  deriveRepositories,
  type HostAptSources,
  type ReleaseId,
  type Repository,
  releaseOf,
  rewriteUri,
  securitySuite,
} from "./repositories.js";
export {
  type ParsedSources,
  parseAptSources,
  parseDeb822Sources,
  parseSignedBy,
  parseSourcesList,
  type SignedBy,
  type SourceEntry,
  type SourceFile,
} from "./sources.js";
