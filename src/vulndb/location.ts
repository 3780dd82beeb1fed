import { join } from "node:path";
import { cacheDir } from "../util/paths.js";
import { DB_FILE_NAME } from "./store/schema.js";

/**
 * Where the database lives: `$OCIPATCH_DB_DIR`, else `<cache>/db` with the user's
 * ocipatch cache directory (`$OCIPATCH_CACHE_DIR`, `$XDG_CACHE_HOME/ocipatch`,
 * `~/.cache/ocipatch`). An explicit `--db-dir` beats all of them.
 */
export function defaultDbDir(env: NodeJS.ProcessEnv = process.env, explicit?: string): string {
  if (explicit) return explicit;
  if (env["OCIPATCH_DB_DIR"]) return env["OCIPATCH_DB_DIR"];
  return join(cacheDir(env), "db");
}

export function databasePath(dbDir: string): string {
  return join(dbDir, DB_FILE_NAME);
}
