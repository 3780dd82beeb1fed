import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { engineEndpoints, parseEngineHost } from "../endpoint.js";

const dirs: string[] = [];
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), "ocipatch-endpoint-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("engineEndpoints", () => {
  it("DOCKER_HOST unix:// is the only candidate", () => {
    const eps = engineEndpoints({ env: { DOCKER_HOST: "unix:///run/x.sock", HOME: temp() } });
    expect(eps).toEqual([{ kind: "unix", socketPath: "/run/x.sock", source: "DOCKER_HOST" }]);
  });

  it("without DOCKER_HOST or a context: docker's socket, then podman's", () => {
    const eps = engineEndpoints({ env: { HOME: temp(), XDG_RUNTIME_DIR: "/run/user/1000" } });
    expect(eps.map((e) => (e.kind === "unix" ? e.socketPath : e.url))).toEqual([
      "/var/run/docker.sock",
      "/run/user/1000/podman/podman.sock",
      "/run/podman/podman.sock",
    ]);
  });

  it("the docker CLI's current context (config.json currentContext → contexts/meta/<sha256>/meta.json)", () => {
    const home = temp();
    const cfg = join(home, ".docker");
    const hash = createHash("sha256").update("remote").digest("hex");
    mkdirSync(join(cfg, "contexts", "meta", hash), { recursive: true });
    writeFileSync(join(cfg, "config.json"), JSON.stringify({ currentContext: "remote" }));
    writeFileSync(
      join(cfg, "contexts", "meta", hash, "meta.json"),
      JSON.stringify({ Name: "remote", Endpoints: { docker: { Host: "unix:///srv/engine.sock" } } }),
    );
    expect(engineEndpoints({ env: { HOME: home } })).toEqual([
      { kind: "unix", socketPath: "/srv/engine.sock", source: 'docker context "remote"' },
    ]);
    // DOCKER_CONTEXT wins over config.json; "default" means the default sockets
    expect(engineEndpoints({ env: { HOME: home, DOCKER_CONTEXT: "default" } })[0]).toMatchObject({
      socketPath: "/var/run/docker.sock",
    });
    expect(() => engineEndpoints({ env: { HOME: home, DOCKER_CONTEXT: "missing" } })).toThrow(
      /docker context "missing" is not usable/,
    );
  });

  it("tcp:// with TLS from DOCKER_CERT_PATH and DOCKER_TLS_VERIFY", () => {
    const certs = temp();
    writeFileSync(join(certs, "ca.pem"), "CA");
    writeFileSync(join(certs, "cert.pem"), "CERT");
    writeFileSync(join(certs, "key.pem"), "KEY");
    const ep = parseEngineHost(
      "tcp://10.0.0.5:2376",
      { DOCKER_CERT_PATH: certs, DOCKER_TLS_VERIFY: "1" },
      "DOCKER_HOST",
    );
    expect(ep.kind).toBe("tcp");
    if (ep.kind !== "tcp") return;
    expect(ep.url).toBe("https://10.0.0.5:2376");
    expect(ep.tls?.verify).toBe(true);
    expect(ep.tls?.ca?.toString()).toBe("CA");
    expect(ep.tls?.cert?.toString()).toBe("CERT");
    expect(ep.tls?.key?.toString()).toBe("KEY");
    expect(parseEngineHost("tcp://h:2375", {}, "DOCKER_HOST")).toEqual({
      kind: "tcp",
      url: "http://h:2375",
      source: "DOCKER_HOST",
    });
  });

  it("refuses addresses it cannot use", () => {
    expect(() => parseEngineHost("ssh://user@host", {}, "DOCKER_HOST")).toThrow(/unsupported engine address/);
    expect(() => parseEngineHost("unix://", {}, "DOCKER_HOST")).toThrow(/names no socket/);
  });
});
