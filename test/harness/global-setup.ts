import type { TestProject } from "vitest/node";
import { sweepStaleTempDirs } from "./fs.js";
import { startRegistry, type TestRegistry } from "./registry.js";

declare module "vitest" {
  export interface ProvidedContext {
    registry: { host: string; storage: string; logFile: string };
    authRegistry: { host: string; storage: string; logFile: string; username: string; password: string };
  }
}

let regs: TestRegistry[] = [];

/** Starts the two shared registries (anonymous and htpasswd) once for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  // temp dirs (and any /proc or /dev still mounted below them) of test processes that were killed
  await sweepStaleTempDirs();
  const anon = await startRegistry();
  const auth = await startRegistry({ auth: true });
  regs = [anon, auth];
  project.provide("registry", { host: anon.host, storage: anon.storage, logFile: anon.logFile });
  project.provide("authRegistry", {
    host: auth.host,
    storage: auth.storage,
    logFile: auth.logFile,
    username: auth.username!,
    password: auth.password!,
  });
}

export async function teardown(): Promise<void> {
  await Promise.all(regs.map((r) => r.stop()));
}
