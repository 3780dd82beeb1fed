/**
 * Real registries for tests: Debian's docker-registry (CNCF distribution), on free
 * loopback ports with temporary storage; one anonymous, one with htpasswd auth.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRegistry {
  /** host:port */
  readonly host: string;
  readonly port: number;
  readonly storage: string;
  readonly username?: string;
  readonly password?: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

const AUTH_USER = "tester";
const AUTH_PASSWORD = "s3cret-Pa55word";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, proc: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}); see ${logFile}`);
    try {
      const r = await fetch(url);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on ${url}; see ${logFile}`);
}

interface StartOptions {
  auth?: boolean;
  /** Extra YAML appended to the config (e.g. to turn on features). */
  extraConfig?: string;
}

export async function startRegistry(opts: StartOptions = {}): Promise<TestRegistry> {
  const bin = "/usr/bin/docker-registry";
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-registry-"));
  const storage = join(dir, "data");
  mkdirSync(storage);
  const port = await freePort();
  const logFile = join(dir, "registry.log");
  let authYaml = "";
  if (opts.auth) {
    const htpasswd = join(dir, "htpasswd");
    execFileSync("htpasswd", ["-Bbc", htpasswd, AUTH_USER, AUTH_PASSWORD], { stdio: "ignore" });
    authYaml = `auth:\n  htpasswd:\n    realm: ocipatch-test\n    path: ${htpasswd}\n`;
  }
  const config = `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: ${Math.random().toString(36).slice(2)}
${authYaml}${opts.extraConfig ?? ""}`;
  const configFile = join(dir, "config.yml");
  writeFileSync(configFile, config);
  const fd = openSync(logFile, "a");
  const proc = spawn(bin, ["serve", configFile], { stdio: ["ignore", fd, fd], detached: false });
  await waitReady(`http://127.0.0.1:${port}/v2/`, proc, logFile);
  const host = `127.0.0.1:${port}`;
  return {
    host,
    port,
    storage,
    logFile,
    ...(opts.auth ? { username: AUTH_USER, password: AUTH_PASSWORD } : {}),
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (proc.exitCode === null) proc.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Path of a blob's data file in the registry's filesystem storage (for tamper tests). */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const [alg, hex] = digest.split(":") as [string, string];
  return join(reg.storage, "docker/registry/v2/blobs", alg, hex.slice(0, 2), hex, "data");
}

/** The registry's log (access lines included), e.g. to count blob uploads. */
export function registryLog(reg: TestRegistry): string {
  return readFileSync(reg.logFile, "utf8");
}
