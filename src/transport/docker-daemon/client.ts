import type { Readable } from "node:stream";
import { Client, type Dispatcher } from "undici";
import { OcipatchError } from "../../errors.js";
import { bodyEndInterceptor } from "../../util/http/body-end.js";
import { describeEndpoint, type EndpointOptions, type EngineEndpoint, engineEndpoints } from "./endpoint.js";

/**
 * A thin client of the Docker Engine API (which Podman also serves): ping, image
 * inspect, image export (`GET /images/{name}/get`) and image load (`POST /images/load`).
 * Every failure becomes one OcipatchError line naming the engine.
 */
export interface EngineClientOptions extends EndpointOptions {
  readonly signal?: AbortSignal | undefined;
  /** Timeout for connecting and for response headers, in ms (default 30 s; pings: 3 s). */
  readonly timeoutMs?: number | undefined;
}

const PING_TIMEOUT_MS = 3000;
const DEFAULT_TIMEOUT_MS = 30_000;

function errno(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/** OpenSSL/Node certificate and handshake errors (they carry no errno), anywhere in the cause chain. */
function tlsFailure(e: unknown): { code: string; message: string } | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (
      typeof code === "string" &&
      (/^ERR_SSL_|^ERR_TLS_/.test(code) ||
        /CERT|SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|HOSTNAME_MISMATCH/.test(code))
    ) {
      return { code, message: ((cur as Error).message ?? code).replace(/\s+/g, " ").trim() };
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export class EngineClient {
  readonly address: string;
  private readonly dispatcher: Dispatcher;

  constructor(readonly endpoint: EngineEndpoint) {
    this.address = describeEndpoint(endpoint);
    const tls = endpoint.kind === "tcp" ? endpoint.tls : undefined;
    const client =
      endpoint.kind === "unix"
        ? new Client("http://localhost", { socketPath: endpoint.socketPath })
        : new Client(endpoint.url, {
            connect: tls
              ? {
                  rejectUnauthorized: tls.verify,
                  ...(tls.ca ? { ca: tls.ca } : {}),
                  ...(tls.cert ? { cert: tls.cert } : {}),
                  ...(tls.key ? { key: tls.key } : {}),
                }
              : {},
          });
    // the engine streams image tars: see bodyEndInterceptor
    this.dispatcher = client.compose(bodyEndInterceptor);
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {});
  }

  /** One line for a failure to talk to the engine at all. */
  unreachable(e: unknown): OcipatchError {
    if (e instanceof OcipatchError) return e;
    const code = errno(e);
    if (code === "EACCES" || code === "EPERM") {
      return new OcipatchError(
        "AUTH_FAILED",
        `permission denied on the container engine socket ${this.address} (run as a member of the docker group, or point DOCKER_HOST at an engine you may use)`,
        { cause: e },
      );
    }
    const tls = tlsFailure(e);
    if (tls !== undefined) {
      const clientRefused = /ALERT|certificate required|bad certificate|unknown ca/i.test(
        tls.code + tls.message,
      );
      return new OcipatchError(
        "ENGINE",
        clientRefused
          ? `the container engine at ${this.address} refused this client's TLS certificate (${tls.message}): DOCKER_CERT_PATH needs cert.pem and key.pem signed by the engine's CA`
          : `TLS verification of the container engine at ${this.address} failed (${tls.message}): DOCKER_CERT_PATH's ca.pem must be the CA that signed the engine's certificate`,
        { cause: e },
      );
    }
    const ep = this.endpoint;
    if (ep.kind === "tcp" && ep.tls && errorCode(e) === "UND_ERR_SOCKET") {
      // TLS 1.3: the server's refusal of the client certificate arrives as a closed connection
      return new OcipatchError(
        "ENGINE",
        ep.tls.cert === undefined || ep.tls.key === undefined
          ? `the container engine at ${this.address} refused this client's TLS certificate (none was offered: DOCKER_CERT_PATH has no cert.pem and key.pem, which an engine that verifies clients requires)`
          : `the container engine at ${this.address} closed the TLS connection (does it accept the client certificate in DOCKER_CERT_PATH?)`,
        { cause: e },
      );
    }
    if (code === "ENOENT" || code === "ECONNREFUSED") {
      return new OcipatchError("ENGINE", `no container engine is running at ${this.address}`, { cause: e });
    }
    if ((e as Error | undefined)?.name === "AbortError") {
      return new OcipatchError(
        "CANCELLED",
        `request to the container engine at ${this.address} was cancelled`,
        {
          cause: e,
        },
      );
    }
    const why = code ?? (e instanceof Error ? e.message : String(e));
    return new OcipatchError("ENGINE", `cannot talk to the container engine at ${this.address}: ${why}`, {
      cause: e,
    });
  }

  async request(
    opts: {
      method: "GET" | "POST" | "HEAD";
      path: string;
      body?: Readable;
      headers?: Record<string, string>;
      timeoutMs?: number | undefined;
    },
    signal?: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      return await this.dispatcher.request({
        method: opts.method,
        path: opts.path,
        headers: opts.headers ?? {},
        headersTimeout: timeout,
        bodyTimeout: 0,
        ...(opts.body ? { body: opts.body } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw this.unreachable(e);
    }
  }

  /** Is an engine answering here? */
  async ping(signal?: AbortSignal): Promise<void> {
    const res = await this.request({ method: "GET", path: "/_ping", timeoutMs: PING_TIMEOUT_MS }, signal);
    const body = await res.body.text().catch(() => "");
    if (res.statusCode === 400 && /HTTP request to an HTTPS server/i.test(body)) {
      throw new OcipatchError(
        "ENGINE",
        `the container engine at ${this.address} expects TLS: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (a directory with ca.pem, cert.pem, key.pem)`,
      );
    }
    if (res.statusCode !== 200) {
      throw new OcipatchError(
        "ENGINE",
        `the container engine at ${this.address} answered /_ping with HTTP ${res.statusCode}`,
      );
    }
  }

  /** The engine's error message of a failed response, as one line. */
  async failure(res: Dispatcher.ResponseData, what: string): Promise<OcipatchError> {
    let message = "";
    try {
      const text = await res.body.text();
      try {
        const doc = JSON.parse(text) as { message?: unknown };
        message = typeof doc.message === "string" ? doc.message : text;
      } catch {
        message = text;
      }
    } catch {
      // keep the status alone
    }
    message = message.replace(/\s+/g, " ").trim().slice(0, 500);
    const code =
      res.statusCode === 404
        ? "NOT_FOUND"
        : res.statusCode === 401 || res.statusCode === 403
          ? "AUTH_FAILED"
          : "ENGINE";
    return new OcipatchError(
      code,
      `${what}: the container engine at ${this.address} answered HTTP ${res.statusCode}${message ? `: ${message}` : ""}`,
      { details: { status: res.statusCode } },
    );
  }

  /** Does the engine have this image (by name, `name:tag`, `name@digest` or ID)? */
  async hasImage(name: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.request(
      { method: "GET", path: `/images/${encodeURIComponent(name)}/json` },
      signal,
    );
    if (res.statusCode === 200) {
      await res.body.dump();
      return true;
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return false;
    }
    throw await this.failure(res, `inspecting image ${name}`);
  }

  /** The image as a `docker save` tar stream. */
  async exportImage(name: string, signal?: AbortSignal): Promise<Readable> {
    const res = await this.request(
      { method: "GET", path: `/images/${encodeURIComponent(name)}/get` },
      signal,
    );
    if (res.statusCode !== 200) {
      const err = await this.failure(res, `exporting image ${name}`);
      if (err.code === "NOT_FOUND") {
        throw new OcipatchError(
          "NOT_FOUND",
          `image ${name} not found in the container engine at ${this.address}`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
    return res.body;
  }

  /**
   * Load a `docker save` tar streamed from `body`. The engine answers a JSON message
   * stream; an `error` in it (or a failed request) becomes one line.
   */
  async loadImage(body: Readable, what: string, signal?: AbortSignal): Promise<string[]> {
    const res = await this.request(
      {
        method: "POST",
        path: "/images/load?quiet=1",
        body,
        headers: { "content-type": "application/x-tar" },
        timeoutMs: 10 * 60_000,
      },
      signal,
    );
    if (res.statusCode !== 200) throw await this.failure(res, `loading ${what}`);
    const text = await res.body.text();
    const loaded: string[] = [];
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      let msg: { error?: unknown; errorDetail?: { message?: unknown }; stream?: unknown };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        continue;
      }
      const err = msg.errorDetail?.message ?? msg.error;
      if (typeof err === "string" && err !== "") {
        throw new OcipatchError(
          "ENGINE",
          `loading ${what}: the container engine at ${this.address} refused it: ${err.replace(/\s+/g, " ").trim()}`,
        );
      }
      if (typeof msg.stream === "string") {
        const m = /Loaded image(?: ID)?: (\S+)/.exec(msg.stream);
        if (m) loaded.push(m[1]!);
      }
    }
    return loaded;
  }
}

/**
 * The first engine that answers a ping, or the error of the most specific candidate.
 * With DOCKER_HOST or a docker context, only that engine is tried.
 */
export async function connectEngine(opts: EngineClientOptions = {}): Promise<EngineClient> {
  const candidates = engineEndpoints(opts);
  let first: unknown;
  for (const ep of candidates) {
    const client = new EngineClient(ep);
    try {
      await client.ping(opts.signal);
      return client;
    } catch (e) {
      await client.close();
      if (first === undefined || (isMissingSocket(first) && !isMissingSocket(e))) first = e;
    }
  }
  if (candidates.length > 1 && isMissingSocket(first)) {
    throw new OcipatchError(
      "ENGINE",
      `no container engine is running (tried ${candidates.map(describeEndpoint).join(", ")}; set DOCKER_HOST to use another)`,
      { cause: first },
    );
  }
  throw first;
}

function isMissingSocket(e: unknown): boolean {
  return (
    e instanceof OcipatchError && e.code === "ENGINE" && /no container engine is running/.test(e.message)
  );
}
