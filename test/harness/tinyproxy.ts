/**
 * A real forwarding proxy on loopback (Debian's `tinyproxy`): plain http:// requests are
 * forwarded (the log names each URL), https:// ones tunnelled with CONNECT (the log names
 * the host and port).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir } from "./fs.js";
import { freePort } from "./registry.js";

export interface TinyProxy {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The proxy's log so far. */
  log(): string;
  /** The request lines seen so far (`GET http://host/path HTTP/1.1`, `CONNECT host:443 HTTP/1.1`). */
  requests(): string[];
  close(): Promise<void>;
}

function tinyproxyPath(): string | undefined {
  return ["/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"].find((p) => existsSync(p));
}

export async function startTinyproxy(): Promise<TinyProxy> {
  const bin = tinyproxyPath();
  if (!bin) throw new Error("tinyproxy is not installed (scripts/install-test-deps.sh installs it)");
  const dir = makeTempDir("tinyproxy");
  const port = await freePort();
  const logFile = join(dir, "tinyproxy.log");
  const conf = join(dir, "tinyproxy.conf");
  // no ConnectPort lines: CONNECT to every port (the test registries listen on random ones)
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      "Listen 127.0.0.1",
      "Timeout 120",
      "MaxClients 100",
      "Allow 127.0.0.1",
      `LogFile "${logFile}"`,
      "LogLevel Info",
      "DisableViaHeader Yes",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(bin, ["-d", "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tinyproxy exited ${child.exitCode}: ${stderr.trim()}`);
    const ok = await fetch(`${url}/`, { signal: AbortSignal.timeout(1000) }).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`tinyproxy did not answer on ${url}: ${stderr.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  return {
    url,
    log,
    requests: () =>
      [...log().matchAll(/Request \(file descriptor \d+\): (.*)$/gm)].map((m) => (m[1] ?? "").trim()),
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
