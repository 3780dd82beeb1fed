import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import vm from "node:vm";
import { asksForHelp, commandWord } from "./command-word.js";

/**
 * The bundled CLI (dist/cli-bundle/main.cjs) compiled with V8's code cache: the bytecode of the
 * functions a run of a command compiled, kept beside the bundle for the next run of that command,
 * as Python keeps `__pycache__` (Node 20 has no `module.enableCompileCache`). It spares each run
 * the parse of the bundle and the compile of the functions it calls (docs/BENCHMARKS.md).
 */

/** Where the caches are, beside the bundle. */
const CODE_CACHE_DIR = "code-cache";
/** A cache file larger than this is not read. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;
/** A command word that may name a cache file (the CLI's commands are such words). */
const COMMAND_WORD = /^[a-z][a-z0-9-]{0,31}$/;

export type CodeCacheState =
  /** compiled from the cache */
  | "accepted"
  /** V8 refused the cache (another V8, other flags): compiled from the source */
  | "rejected"
  /** no cache for this bundle, Node and command (or one not owned as the bundle is: not read) */
  | "absent"
  /** not used: `OCIPATCH_CODE_CACHE=off`, or a command word that cannot name a file */
  | "off";

export interface LoadedBundle {
  /** The bundle's exports. */
  readonly exports: Readonly<Record<string, unknown>>;
  readonly cache: CodeCacheState;
  /**
   * Keep this run's compiled code for the next run of its command when no cache was used (absent
   * or rejected), the command is one of `commands` (or none: the program alone, as `--version`),
   * the run did not ask for help (it compiles little of its command: the next real run keeps its
   * code instead), this process runs as the bundle's owner and the directory beside the bundle can
   * be written. Returns whether it was written.
   */
  save(commands: readonly string[]): boolean;
}

/** The cache file of a bundle (by its content), this Node and platform, and a command word. */
export function codeCachePath(
  bundle: string,
  source: string,
  command: string | undefined,
): string | undefined {
  const word = command ?? "main";
  if (!COMMAND_WORD.test(word)) return undefined;
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  // V8 checks its own version and flags, but of the source only its length: the hash names the content
  const name = `${basename(bundle)}-${hash}-${process.version}-${process.platform}-${process.arch}.${word}.v8cache`;
  return join(dirname(bundle), CODE_CACHE_DIR, name);
}

/**
 * A cache file is code: it is read only when it is owned by the bundle's owner and not writable by
 * anybody else, so nobody who cannot change the bundle can change what runs.
 */
function readCache(path: string, bundleUid: number): Buffer | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.uid !== bundleUid || (st.mode & 0o022) !== 0 || st.size > MAX_CACHE_BYTES) {
      return undefined;
    }
    return readFileSync(path);
  } catch {
    return undefined; // no cache yet (or unreadable): compiled from the source
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // its directory cannot be read either (not a directory): nothing was written there
  }
}

/**
 * Load a CommonJS bundle into this context, with `require` resolving from the bundle's directory,
 * with the code cache of the command `argv` runs (the CLI's arguments, without node and script).
 */
export function loadBundle(
  bundle: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): LoadedBundle {
  const command = commandWord(argv);
  const source = readFileSync(bundle, "utf8");
  const enabled = env["OCIPATCH_CODE_CACHE"] !== "off";
  const path = enabled ? codeCachePath(bundle, source, command) : undefined;
  const bundleUid = statSync(bundle).uid;
  const cachedData = path === undefined ? undefined : readCache(path, bundleUid);
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    ...(cachedData ? { cachedData } : {}),
  });
  const cache: CodeCacheState =
    path === undefined
      ? "off"
      : cachedData === undefined
        ? "absent"
        : script.cachedDataRejected
          ? "rejected"
          : "accepted";
  const module = { exports: {} as Record<string, unknown> };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return {
    exports: module.exports,
    cache,
    save(commands) {
      if (path === undefined || cache === "accepted" || asksForHelp(argv)) return false;
      // what another user writes would not be read (readCache)
      if (process.getuid?.() !== bundleUid) return false;
      if (command !== undefined && !commands.includes(command)) return false;
      const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
      try {
        mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
        writeFileSync(tmp, script.createCachedData(), { flag: "wx", mode: 0o644 });
        renameSync(tmp, path);
        return true;
      } catch {
        // a read-only install, a full disk: the next run compiles from the source, as this one did
        removeQuietly(tmp);
        return false;
      }
    },
  };
}
