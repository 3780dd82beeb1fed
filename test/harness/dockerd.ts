import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { HarnessError, type RunOptions, type RunResult, run, tail } from "./exec.js";

/**
 * A private Docker engine (or Podman's Docker-compatible API service) for tests: its
 * own unix socket, data root, exec root and pidfile under one temp directory, no
 * iptables and no bridge (containers run with `--network none`). Needs root.
 */
export interface TestEngine {
  /** `unix://…`, for DOCKER_HOST. */
  readonly host: string;
  readonly socketPath: string;
  /** The environment of this process with DOCKER_HOST pointing at the engine. */
  readonly env: NodeJS.ProcessEnv;
  /** Run the docker CLI against this engine. */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** The engine's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: 1000 }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on("error", () => res(false));
    req.on("timeout", () => {
      req.destroy();
      res(false);
    });
    req.end();
  });
}

async function waitForPing(
  socketPath: string,
  child: ChildProcess,
  logFile: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new HarnessError(`engine exited before answering /_ping:\n${tail(readLog(logFile))}`);
    }
    if (existsSync(socketPath) && (await ping(socketPath))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new HarnessError(`engine did not answer /_ping within ${ms} ms:\n${tail(readLog(logFile))}`);
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

async function stopChild(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), ms);
  await exited;
  clearTimeout(t);
}

function engine(
  dir: string,
  socketPath: string,
  child: ChildProcess,
  logFile: string,
  cleanup: () => Promise<void>,
): TestEngine {
  const host = `unix://${socketPath}`;
  const env = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, "docker-config") };
  let stopped = false;
  return {
    host,
    socketPath,
    env,
    docker: (args, opts = {}) => run("docker", args, { ...opts, env: { ...env, ...(opts.env ?? {}) } }),
    log: () => readLog(logFile),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopChild(child, 20_000);
      await cleanup();
    },
  };
}

/**
 * Start `dockerd` as root on a private socket (it starts its own containerd under its
 * exec root). The data root is a fresh temp directory, so the store starts empty.
 */
interface DockerdOptions {
  /** Also listen on tcp://127.0.0.1:PORT with `--tlsverify` (client certificates signed by `ca` required). */
  readonly tls?: { readonly port: number; readonly ca: string; readonly cert: string; readonly key: string };
  /** Put the data root on a tmpfs of this size (e.g. "64m"), mounted under the engine's temp directory. */
  readonly dataRootTmpfs?: string;
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<TestEngine> {
  if (process.getuid?.() !== 0) throw new HarnessError("startDockerd needs root");
  // short paths: a unix socket path must fit in 108 bytes
  const dir = await mkdtemp("/tmp/ocpd-");
  const socketPath = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  if (opts.dataRootTmpfs !== undefined) {
    mkdirSync(join(dir, "data"));
    await run("mount", ["-t", "tmpfs", "-o", `size=${opts.dataRootTmpfs}`, "tmpfs", join(dir, "data")]);
  }
  const out = openSync(logFile, "a");
  const child = spawn(
    "dockerd",
    [
      `--host=unix://${socketPath}`,
      ...(opts.tls
        ? [
            `--host=tcp://127.0.0.1:${opts.tls.port}`,
            "--tlsverify",
            `--tlscacert=${opts.tls.ca}`,
            `--tlscert=${opts.tls.cert}`,
            `--tlskey=${opts.tls.key}`,
          ]
        : []),
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
      "--bridge=none",
      "--userland-proxy=false",
      "--log-level=warn",
    ],
    { stdio: ["ignore", out, out], env: { ...process.env, DOCKER_HOST: undefined } },
  );
  const cleanup = async () => {
    // the data root holds overlay mounts only while the engine runs; it has stopped here
    if (opts.dataRootTmpfs !== undefined) {
      await run("umount", ["-l", join(dir, "data")], { okCodes: [0, 1, 32] }).catch(() => {});
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  await answeringOrCleanedUp(socketPath, child, logFile, cleanup);
  return engine(dir, socketPath, child, logFile, cleanup);
}

/** Wait for the engine to answer /_ping; if it does not, stop it and remove what it left. */
async function answeringOrCleanedUp(
  socketPath: string,
  child: ChildProcess,
  logFile: string,
  cleanup: () => Promise<void>,
): Promise<void> {
  try {
    await waitForPing(socketPath, child, logFile, 60_000);
  } catch (e) {
    await stopChild(child, 10_000);
    await cleanup();
    throw e;
  }
}

/**
 * Start Podman's Docker-compatible API (`podman system service`) on a private socket
 * with its own storage (root and runroot under a temp directory).
 */
export interface PodmanEngine extends TestEngine {
  /** Run the podman CLI on the service's own storage. */
  podman(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

export async function startPodmanService(): Promise<PodmanEngine> {
  const dir = await mkdtemp("/tmp/ocpp-");
  const socketPath = join(dir, "podman.sock");
  const logFile = join(dir, "podman.log");
  const out = openSync(logFile, "a");
  const storage = [`--root=${join(dir, "root")}`, `--runroot=${join(dir, "run")}`, "--storage-driver=vfs"];
  const child = spawn("podman", [...storage, "system", "service", "--time=0", `unix://${socketPath}`], {
    stdio: ["ignore", out, out],
  });
  const cleanup = async () => {
    await run("podman", [...storage, "system", "reset", "--force"], { okCodes: [0, 1, 125] }).catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  await answeringOrCleanedUp(socketPath, child, logFile, cleanup);
  const e = engine(dir, socketPath, child, logFile, cleanup);
  return {
    ...e,
    // the podman CLI against the same storage (the docker CLI also works through the socket)
    docker: (args, opts = {}) => run("docker", args, { ...opts, env: { ...e.env, ...(opts.env ?? {}) } }),
    podman: (args, opts = {}) => run("podman", [...storage, ...args], opts),
  };
}
