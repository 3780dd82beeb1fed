import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { Agent, buildConnector, type Dispatcher, ProxyAgent } from "undici";
import { OcipatchError } from "../../errors.js";
import { bodyEndInterceptor } from "./body-end.js";
import { ProxyRouter, parseNoProxy } from "./proxy-router.js";

/**
 * One connection setup for every HTTP request ocipatch makes (registries, token
 * servers, apt mirrors, package downloads, vulnerability feeds):
 *
 * - proxies from the environment, as curl and apt read them: `HTTPS_PROXY`/`https_proxy`
 *   for https URLs, `HTTP_PROXY`/`http_proxy` for http URLs (and for https when no
 *   HTTPS proxy is set), `NO_PROXY`/`no_proxy` for hosts to reach directly;
 * - extra CA certificates for private registries and mirrors:
 *
 *     OCIPATCH_CA_FILE  a PEM bundle trusted for every TLS connection
 *     SSL_CERT_FILE     the usual OpenSSL variable; honoured the same way
 *
 *   both added to Node's built-in roots (never replacing them), so public hosts keep
 *   working when a private CA is configured.
 *
 * Dispatchers are shared between callers with the same settings; idle sockets do
 * not keep the process alive. Each one goes through `bodyEndInterceptor` (undici's parser and
 * a connection closed right after a slowly read body).
 */
const CA_ENV_VARS = ["OCIPATCH_CA_FILE", "SSL_CERT_FILE"] as const;

type Env = Readonly<Record<string, string | undefined>>;

interface DispatcherOptions {
  /** Accept any TLS certificate (`--insecure`, `--tls-verify=false`). */
  readonly insecure?: boolean;
  /** Connect, headers and body-inactivity timeout in ms. Default 30 s. */
  readonly timeoutMs?: number;
  /** Where proxy and CA settings are read. Default `process.env`. */
  readonly env?: Env;
}

/** The proxy settings of an environment (undefined: none). */
interface ProxySettings {
  readonly httpProxy: string | undefined;
  readonly httpsProxy: string | undefined;
  readonly noProxy: string | undefined;
}

function firstSet(env: Env, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = env[n]?.trim();
    if (v) return v;
  }
  return undefined;
}

/** The proxies an environment names; undefined when it names none. */
export function proxySettings(env: Env): ProxySettings | undefined {
  const httpProxy = firstSet(env, ["http_proxy", "HTTP_PROXY"]);
  const httpsProxy = firstSet(env, ["https_proxy", "HTTPS_PROXY"]);
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: firstSet(env, ["no_proxy", "NO_PROXY"]) };
}

function extraCaFiles(env: Env): string[] {
  const files: string[] = [];
  for (const v of CA_ENV_VARS) {
    const f = env[v];
    if (f && !files.includes(f)) files.push(f);
  }
  return files;
}

function readCa(files: readonly string[], env: Env): string[] {
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

/** A proxy URL without its user:password, for messages and cache keys. */
function proxyShown(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return "(malformed proxy URL)";
  }
}

/** Node's roots plus the extra bundles, as one secure context (parsing them takes tens of ms). */
function caContext(ca: readonly string[]): SecureContext {
  return createSecureContext({ ca: [...rootCertificates, ...ca] });
}

/**
 * undici's connector, with the extra CA bundles parsed at the first TLS connection: a run that
 * only talks plain HTTP (a loopback registry) never pays for parsing them. Then one secure
 * context serves every connection.
 */
function lazyTlsConnector(
  base: buildConnector.BuildOptions,
  ca: readonly string[] | undefined,
): buildConnector.connector {
  const plain = buildConnector(base);
  if (!ca) return plain;
  let tls: buildConnector.connector | undefined;
  return (options, callback) => {
    if (options.protocol !== "https:") {
      plain(options, callback);
      return;
    }
    try {
      tls ??= buildConnector({ ...base, secureContext: caContext(ca) });
    } catch (e) {
      callback(e as Error, null);
      return;
    }
    tls(options, callback);
  };
}

const dispatchers = new Map<string, Dispatcher>();

/** The shared dispatcher for these settings. */
export function httpDispatcher(opts: DispatcherOptions = {}): Dispatcher {
  const env = opts.env ?? process.env;
  const insecure = opts.insecure ?? false;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const files = extraCaFiles(env);
  const proxy = proxySettings(env);
  const key = JSON.stringify([insecure, files, timeoutMs, proxy]);
  let d = dispatchers.get(key);
  if (d) return d;
  // the files are read now (a missing one fails before any work), parsed at the first TLS connection
  const ca = files.length > 0 ? readCa(files, env) : undefined;
  const verify = insecure ? { rejectUnauthorized: false } : {};
  const common = {
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 10_000,
  };
  if (proxy) {
    // one secure context for all connections: parsing a CA bundle per connection is slow
    const tls = { ...(ca ? { secureContext: caContext(ca) } : {}), ...verify };
    const direct = new Agent({ ...common, connect: { timeout: timeoutMs, ...tls } });
    const via = (url: string | undefined, name: string): Dispatcher => {
      if (!url) return direct;
      if (!URL.canParse(url)) {
        throw new OcipatchError("USAGE", `${name} is not a URL: ${proxyShown(url)}`, {
          details: { env: name },
        });
      }
      // the target's TLS settings apply inside the proxy's CONNECT tunnel
      // http:// targets are forwarded (as curl does), https:// ones tunnelled with CONNECT
      return new ProxyAgent({
        ...common,
        connect: { timeout: timeoutMs, ...tls },
        uri: url,
        proxyTunnel: false,
        requestTls: { timeout: timeoutMs, ...tls },
      });
    };
    const httpAgent = via(proxy.httpProxy, "HTTP_PROXY");
    const httpsAgent = proxy.httpsProxy ? via(proxy.httpsProxy, "HTTPS_PROXY") : httpAgent;
    d = new ProxyRouter(direct, httpAgent, httpsAgent, parseNoProxy(proxy.noProxy));
  } else {
    d = new Agent({ ...common, connect: lazyTlsConnector({ timeout: timeoutMs, ...verify }, ca) });
  }
  d = d.compose(bodyEndInterceptor);
  dispatchers.set(key, d);
  return d;
}
