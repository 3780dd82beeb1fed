/** ocipatch's configuration file: repository mirrors, extra keyrings, Valid-Until policy. */
export {
  type AptConfig,
  configPath,
  type LoadConfigOptions,
  loadAptConfig,
  type MirrorConfig,
  type RepositoryConfig,
} from "./repositories.js";
