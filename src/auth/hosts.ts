/**
 * Registry host names as they appear in credential stores. Docker writes Docker Hub
 * as `https://index.docker.io/v1/`; other registries as `host[:port]`, sometimes
 * with a scheme or a path. All of these name the same registry.
 */
const DOCKER_HUB_ALIASES = new Set([
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "registry.hub.docker.com",
]);

/** The server URL Docker uses for Docker Hub in its config and credential helpers. */
const DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/";

/** `https://host:5000/v2/` → `host:5000`; Docker Hub aliases → `docker.io`. Lowercased. */
export function normalizeRegistryHost(key: string): string {
  let s = key.trim();
  s = s.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = s.indexOf("/");
  if (slash !== -1) s = s.slice(0, slash);
  s = s.toLowerCase();
  return DOCKER_HUB_ALIASES.has(s) ? "docker.io" : s;
}

function isDockerHub(registry: string): boolean {
  return normalizeRegistryHost(registry) === "docker.io";
}

/**
 * The key an auth file uses for an entry, split into host and optional repository
 * path (containers auth.json allows `host/namespace/repo` keys).
 */
export function splitAuthKey(key: string): { host: string; path: string | undefined } {
  const noScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const slash = noScheme.indexOf("/");
  const host = normalizeRegistryHost(slash === -1 ? noScheme : noScheme.slice(0, slash));
  if (slash === -1) return { host, path: undefined };
  const path = noScheme.slice(slash + 1).replace(/\/+$/, "");
  // Docker Hub's `https://index.docker.io/v1/` and `/v2/` API paths are not repositories
  if (path === "" || /^v[12]$/.test(path)) return { host, path: undefined };
  return { host, path };
}

/** The server URL to hand to a credential helper for a registry. */
export function helperServerUrl(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_SERVER_URL : normalizeRegistryHost(registry);
}
