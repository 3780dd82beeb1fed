import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates } from "node:tls";
import { Agent } from "undici";
import { OcipatchError } from "../../errors.js";

/**
 * Extra CA certificates for registries with a private CA, from the environment:
 *
 *   OCIPATCH_CA_FILE  a PEM bundle trusted for registry and token-server connections
 *   SSL_CERT_FILE     the usual OpenSSL variable; honoured the same way
 *
 * Both are added to Node's built-in roots (never replacing them), so public
 * registries keep working when a private CA is configured.
 */
export const CA_ENV_VARS = ["OCIPATCH_CA_FILE", "SSL_CERT_FILE"] as const;

export function extraCaFiles(env: Readonly<Record<string, string | undefined>>): string[] {
  const files: string[] = [];
  for (const v of CA_ENV_VARS) {
    const f = env[v];
    if (f && !files.includes(f)) files.push(f);
  }
  return files;
}

function readCa(files: readonly string[], env: Readonly<Record<string, string | undefined>>): string[] {
  return files.map((f) => {
    try {
      return readFileSync(f, "utf8");
    } catch (e) {
      const name = CA_ENV_VARS.find((v) => env[v] === f) ?? "CA file";
      throw new OcipatchError("IO", `cannot read CA bundle ${f} (from ${name}): ${(e as Error).message}`, {
        cause: e,
      });
    }
  });
}

const agents = new Map<string, Agent>();

/**
 * A connection pool for a TLS configuration and timeout. Pools are shared between
 * clients with the same settings; idle sockets do not keep the process alive.
 */
export function agentFor(opts: {
  insecure: boolean;
  env: Readonly<Record<string, string | undefined>>;
  timeoutMs: number;
}): Agent {
  const files = extraCaFiles(opts.env);
  const key = JSON.stringify([opts.insecure, files, opts.timeoutMs]);
  let agent = agents.get(key);
  if (!agent) {
    // one secure context for all connections: parsing a CA bundle per connection is slow
    const secureContext =
      files.length > 0
        ? createSecureContext({ ca: [...rootCertificates, ...readCa(files, opts.env)] })
        : undefined;
    agent = new Agent({
      connect: {
        timeout: opts.timeoutMs,
        ...(secureContext ? { secureContext } : {}),
        ...(opts.insecure ? { rejectUnauthorized: false } : {}),
      },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 10_000,
    });
    agents.set(key, agent);
  }
  return agent;
}
