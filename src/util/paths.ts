import { homedir } from "node:os";
import { join } from "node:path";

/** The user's cache directory for ocipatch: `$OCIPATCH_CACHE_DIR`, `$XDG_CACHE_HOME/ocipatch`, `~/.cache/ocipatch`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env["OCIPATCH_CACHE_DIR"]) return env["OCIPATCH_CACHE_DIR"];
  const xdg = env["XDG_CACHE_HOME"];
  return join(xdg && xdg !== "" ? xdg : join(env["HOME"] ?? homedir(), ".cache"), "ocipatch");
}
