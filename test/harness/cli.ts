/**
 * Running the ocipatch CLI from tests: in-process through `main(argv, ctx)` with captured
 * streams, or as a real child process through bin/ocipatch (built into dist/ first).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli/main.js";
import { run } from "./exec.js";
import { withLock } from "./lock.js";

export const REPO_ROOT = join(import.meta.dirname, "../..");
export const BIN = join(REPO_ROOT, "bin/ocipatch");

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stdoutBytes: Buffer;
  readonly stderr: string;
}

/** `ocipatch ARGS` in this process; `env` is the whole environment the command sees. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on("data", (c: Buffer) => chunks.out.push(c));
  err.on("data", (c: Buffer) => chunks.err.push(c));
  const code = await main(args, { stdout: out, stderr: err, env });
  const stdoutBytes = Buffer.concat(chunks.out);
  return {
    code,
    stdout: stdoutBytes.toString("utf8"),
    stdoutBytes,
    stderr: Buffer.concat(chunks.err).toString("utf8"),
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith(".ts") || e.parentPath.includes("__tests__")) continue;
    newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** Build dist/ when it is missing or older than src/ (bin/ocipatch runs the bundle dist/cli-bundle/main.cjs). */
export async function ensureBuilt(): Promise<void> {
  const stale = () => {
    try {
      return (
        statSync(join(REPO_ROOT, "dist/cli-bundle/main.cjs")).mtimeMs < newestMtime(join(REPO_ROOT, "src"))
      );
    } catch {
      return true;
    }
  };
  if (!stale()) return;
  await withLock(
    join(REPO_ROOT, "node_modules/.cache/ocipatch-build.lock"),
    async () => {
      if (stale()) await run("npm", ["run", "build"], { cwd: REPO_ROOT });
    },
    { what: "npm run build" },
  );
}

/** Spawn bin/ocipatch; the caller decides what to do with its streams. */
export function spawnBin(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Run bin/ocipatch to completion, collecting its output. */
export function runBin(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnBin(args, env);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (c: Buffer) => out.push(c));
    child.stderr!.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      const stdoutBytes = Buffer.concat(out);
      resolve({
        code: code ?? -1,
        stdout: stdoutBytes.toString("utf8"),
        stdoutBytes,
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
}
