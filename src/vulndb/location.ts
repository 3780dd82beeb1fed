import { homedir } from "node:os";
import { join } from "node:path";
import { DB_FILE_NAME } from "./store/schema.js";

/**
 * Where the database lives: `$OCIPATCH_DB_DIR`, else `$XDG_CACHE_HOME/ocipatch/db`,
 * else `~/.cache/ocipatch/db`. An explicit `--db-dir` beats all of them.
 */
export function defaultDbDir(env: NodeJS.ProcessEnv = process.env, explicit?: string): string {
  if (explicit) return explicit;
  if (env["OCIPATCH_DB_DIR"]) return env["OCIPATCH_DB_DIR"];
  if (env["XDG_CACHE_HOME"]) return join(env["XDG_CACHE_HOME"], "ocipatch", "db");
  return join(env["HOME"] || homedir(), ".cache", "ocipatch", "db");
}

export function databasePath(dbDir: string): string {
  return join(dbDir, DB_FILE_NAME);
}
