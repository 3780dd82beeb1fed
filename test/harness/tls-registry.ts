/** A docker-registry serving HTTPS with a test CA's certificate (the shared harness serves plain HTTP). */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import type { TestCa } from "./pki.js";
import { freePort } from "./registry.js";

export interface TlsRegistry {
  readonly host: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

function handshake(port: number, ca: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

export async function startTlsRegistry(pki: TestCa, caPem: string): Promise<TlsRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-tls-registry-"));
  const storage = join(dir, "data");
  mkdirSync(storage);
  const port = await freePort();
  const logFile = join(dir, "registry.log");
  const config = `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: ${storage}
http:
  addr: 127.0.0.1:${port}
  secret: ${Math.random().toString(36).slice(2)}
  tls:
    certificate: ${pki.serverCert}
    key: ${pki.serverKey}
`;
  const configFile = join(dir, "config.yml");
  writeFileSync(configFile, config);
  const fd = openSync(logFile, "a");
  const proc = spawn("/usr/bin/docker-registry", ["serve", configFile], { stdio: ["ignore", fd, fd] });
  const deadline = Date.now() + 20_000;
  while (!(await handshake(port, caPem))) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`TLS registry did not start; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    logFile,
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
