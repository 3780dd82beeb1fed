import { homedir } from "node:os";
import { join } from "node:path";
import { OcipatchError } from "../errors.js";
import { lookupAuthFile, readAuthFile } from "./auth-file.js";
import { ANONYMOUS, type Credentials, type ResolvedCredentials } from "./credentials.js";
import { runCredentialHelper } from "./helper.js";
import { helperServerUrl } from "./hosts.js";

/**
 * Environment variables for credentials. They apply to every registry ocipatch
 * accesses in the run (source and destination), like `--username/--password`:
 *
 *   OCIPATCH_USERNAME  user name for registry login
 *   OCIPATCH_PASSWORD  password or access token for registry login
 */
const ENV_USERNAME = "OCIPATCH_USERNAME";
const ENV_PASSWORD = "OCIPATCH_PASSWORD";

interface KeychainOptions {
  /** Explicit credentials (e.g. from flags); they win over every other source. */
  readonly credentials?: Credentials | undefined;
  /** Environment (default `process.env`): OCIPATCH_*, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG, PATH. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Home directory (default `os.homedir()`). */
  readonly homeDir?: string | undefined;
  /** The repository being accessed, for auth.json entries scoped to `host/namespace`. */
  readonly repository?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The credential files consulted, in order. */
export function authFilePaths(env: Readonly<Record<string, string | undefined>>, home: string): string[] {
  const paths: string[] = [];
  const registryAuthFile = env["REGISTRY_AUTH_FILE"];
  if (registryAuthFile) paths.push(registryAuthFile);
  const xdg = env["XDG_RUNTIME_DIR"];
  if (xdg) paths.push(join(xdg, "containers", "auth.json"));
  paths.push(join(home, ".config", "containers", "auth.json"));
  const dockerConfig = env["DOCKER_CONFIG"];
  paths.push(join(dockerConfig ? dockerConfig : join(home, ".docker"), "config.json"));
  return [...new Set(paths)];
}

/**
 * Find credentials for a registry, trying in order: explicit credentials, the
 * OCIPATCH_USERNAME/OCIPATCH_PASSWORD environment variables, `$REGISTRY_AUTH_FILE`,
 * containers auth.json (`$XDG_RUNTIME_DIR/containers/auth.json`,
 * `~/.config/containers/auth.json`), Docker's config (`$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json`, with `credHelpers`/`credsStore` helpers); anonymous otherwise.
 */
export async function resolveCredentials(
  registry: string,
  opts: KeychainOptions = {},
): Promise<ResolvedCredentials> {
  if (opts.credentials) return { credentials: opts.credentials, source: "explicit credentials" };
  const env = opts.env ?? process.env;
  const user = env[ENV_USERNAME];
  const pass = env[ENV_PASSWORD];
  if (user || pass) {
    if (!user || !pass) {
      throw new OcipatchError(
        "USAGE",
        `${user ? ENV_USERNAME : ENV_PASSWORD} is set but ${user ? ENV_PASSWORD : ENV_USERNAME} is not`,
      );
    }
    return { credentials: { username: user, password: pass }, source: `${ENV_USERNAME}/${ENV_PASSWORD}` };
  }
  const home = opts.homeDir ?? env["HOME"] ?? homedir();
  for (const path of authFilePaths(env, home)) {
    const file = await readAuthFile(path);
    if (!file) continue;
    const match = lookupAuthFile(file, registry, opts.repository, path);
    if (!match) continue;
    if (match.kind === "inline") return { credentials: match.credentials, source: path };
    const fromHelper = await runCredentialHelper(match.helper, helperServerUrl(registry), {
      env,
      signal: opts.signal,
    });
    if (fromHelper) return { credentials: fromHelper, source: `docker-credential-${match.helper}` };
    if (match.fallback) return { credentials: match.fallback, source: path };
  }
  return ANONYMOUS;
}
