import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { OcipatchError } from "../../errors.js";

/**
 * Where a Docker-compatible engine listens. Candidates, in order:
 * 1. `DOCKER_HOST` (`unix:///path` or `tcp://host:port`, TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`);
 * 2. the docker CLI's current context (`$DOCKER_CONFIG/config.json` `currentContext`, or `DOCKER_CONTEXT`,
 *    whose endpoint is in `contexts/meta/<sha256 of the name>/meta.json`);
 * 3. `/var/run/docker.sock`;
 * 4. Podman's Docker-compatible sockets: `$XDG_RUNTIME_DIR/podman/podman.sock`, `/run/podman/podman.sock`.
 * An explicit choice (1 or 2) is the only candidate; the defaults (3, 4) are tried in turn.
 */
export type EngineEndpoint =
  | { readonly kind: "unix"; readonly socketPath: string; readonly source: string }
  | {
      readonly kind: "tcp";
      readonly url: string;
      readonly tls?: {
        readonly ca?: Buffer;
        readonly cert?: Buffer;
        readonly key?: Buffer;
        readonly verify: boolean;
      };
      readonly source: string;
    };

type Env = Readonly<Record<string, string | undefined>>;

export interface EndpointOptions {
  readonly env?: Env | undefined;
  readonly homeDir?: string | undefined;
}

const contextMetaSchema = z.looseObject({
  Name: z.string().optional(),
  Endpoints: z
    .looseObject({
      docker: z
        .looseObject({ Host: z.string().optional(), SkipTLSVerify: z.boolean().optional() })
        .optional(),
    })
    .optional(),
});

/** Parse a `DOCKER_HOST`-style address. */
export function parseEngineHost(
  host: string,
  env: Env,
  source: string,
  skipTlsVerify = false,
): EngineEndpoint {
  if (host.startsWith("unix://")) {
    const socketPath = host.slice("unix://".length);
    if (socketPath === "") throw new OcipatchError("USAGE", `${source}: "${host}" names no socket`);
    return { kind: "unix", socketPath, source };
  }
  const m = /^(tcp|https?):\/\/([^/]+)\/?$/.exec(host);
  if (!m) {
    throw new OcipatchError(
      "USAGE",
      `${source}: unsupported engine address "${host}" (ocipatch knows unix:///PATH and tcp://HOST:PORT)`,
    );
  }
  const verify = (env["DOCKER_TLS_VERIFY"] ?? "") !== "" && env["DOCKER_TLS_VERIFY"] !== "0";
  const certPath = env["DOCKER_CERT_PATH"];
  const useTls = verify || (certPath !== undefined && certPath !== "") || m[1] === "https";
  if (!useTls) return { kind: "tcp", url: `http://${m[2]}`, source };
  const dir = certPath && certPath !== "" ? certPath : join(env["HOME"] ?? homedir(), ".docker");
  const read = (name: string): Buffer | undefined => {
    const p = join(dir, name);
    try {
      return existsSync(p) ? readFileSync(p) : undefined;
    } catch (e) {
      throw new OcipatchError("IO", `cannot read ${p} (DOCKER_CERT_PATH)`, { cause: e });
    }
  };
  const ca = read("ca.pem");
  const cert = read("cert.pem");
  const key = read("key.pem");
  const tls = {
    verify: verify && !skipTlsVerify,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
  return { kind: "tcp", url: `https://${m[2]}`, tls, source };
}

function dockerConfigDir(env: Env, home: string): string {
  const d = env["DOCKER_CONFIG"];
  return d !== undefined && d !== "" ? d : join(home, ".docker");
}

/** The endpoint of the docker CLI's current context, when it is not `default`. */
function contextEndpoint(env: Env, home: string): EngineEndpoint | undefined {
  const dir = dockerConfigDir(env, home);
  let name = env["DOCKER_CONTEXT"];
  if (name === undefined || name === "") {
    try {
      const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { currentContext?: unknown };
      name = typeof cfg.currentContext === "string" ? cfg.currentContext : undefined;
    } catch {
      return undefined;
    }
  }
  if (name === undefined || name === "" || name === "default") return undefined;
  const hash = createHash("sha256").update(name).digest("hex");
  const metaFile = join(dir, "contexts", "meta", hash, "meta.json");
  let meta: z.infer<typeof contextMetaSchema>;
  try {
    meta = contextMetaSchema.parse(JSON.parse(readFileSync(metaFile, "utf8")));
  } catch (e) {
    throw new OcipatchError("USAGE", `docker context "${name}" is not usable (${metaFile})`, { cause: e });
  }
  const host = meta.Endpoints?.docker?.Host;
  if (host === undefined || host === "") {
    throw new OcipatchError("USAGE", `docker context "${name}" has no docker endpoint`);
  }
  return parseEngineHost(
    host,
    env,
    `docker context "${name}"`,
    meta.Endpoints?.docker?.SkipTLSVerify ?? false,
  );
}

/** The engine endpoints to try, most specific first (see EngineEndpoint). */
export function engineEndpoints(opts: EndpointOptions = {}): EngineEndpoint[] {
  const env = opts.env ?? process.env;
  const home = opts.homeDir ?? env["HOME"] ?? homedir();
  const host = env["DOCKER_HOST"];
  if (host !== undefined && host !== "") return [parseEngineHost(host, env, "DOCKER_HOST")];
  const ctx = contextEndpoint(env, home);
  if (ctx) return [ctx];
  const out: EngineEndpoint[] = [{ kind: "unix", socketPath: "/var/run/docker.sock", source: "default" }];
  const xdg = env["XDG_RUNTIME_DIR"];
  if (xdg !== undefined && xdg !== "") {
    out.push({ kind: "unix", socketPath: join(xdg, "podman", "podman.sock"), source: "podman" });
  }
  out.push({ kind: "unix", socketPath: "/run/podman/podman.sock", source: "podman" });
  return out;
}

export function describeEndpoint(e: EngineEndpoint): string {
  return e.kind === "unix" ? `unix://${e.socketPath}` : e.url.replace(/^https?:/, "tcp:");
}
