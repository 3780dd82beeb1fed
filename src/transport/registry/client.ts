import type { Readable } from "node:stream";
import {
  basicAuthorization,
  isBasic,
  isRegistryToken,
  type ResolvedCredentials,
} from "../../auth/credentials.js";
import { resolveCredentials } from "../../auth/keychain.js";
import { OcipatchError } from "../../errors.js";
import { httpDispatcher } from "../../util/http/dispatcher.js";
import { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "../../util/http/retry.js";
import { VERSION } from "../../version.js";
import { type Challenge, parseWwwAuthenticate, pickChallenge } from "./challenge.js";
import { endpointHost, hasExplicitPort, isLoopbackHost } from "./endpoint.js";
import {
  isConnectionRefused,
  isPeerSpeaksOtherProtocol,
  isTlsProtocolMismatch,
  type RegistryErrorEntry,
  statusError,
} from "./errors.js";
import {
  bodyText,
  discard,
  type HttpContext,
  type HttpMethod,
  type HttpResponse,
  headerValue,
  sendWithRetry,
} from "./http.js";
import { DEFAULT_TIMEOUT_MS, type Endpoint, type RegistryOptions } from "./options.js";
import { mergeScopes } from "./scope.js";
import { type BearerToken, fetchToken, TokenCache, tokenCacheKey } from "./token.js";

interface ClientRequest {
  readonly method: HttpMethod;
  /** A path under the registry (`/v2/...`) or an absolute URL (an upload location). */
  readonly target: string | URL;
  /** Token scopes the request needs (`repository:app:pull`). */
  readonly scopes: readonly string[];
  readonly headers?: Record<string, string> | undefined;
  readonly body?: Buffer | string | (() => Readable) | undefined;
  /** Default: true unless the body is a one-shot stream. */
  readonly retryable?: boolean | undefined;
  /** Statuses the caller handles; any other becomes an OcipatchError. */
  readonly expect: readonly number[];
  /** For messages, e.g. `GET manifest 127.0.0.1:5000/app:1`. */
  readonly what: string;
  /** A custom error for 404. */
  readonly notFound?: ((entries: RegistryErrorEntry[]) => OcipatchError) | undefined;
  /** Follow redirects (blob downloads); credentials are only sent to the registry itself. */
  readonly followRedirects?: boolean | undefined;
  /** Cancels this request (in addition to the client's signal). */
  readonly signal?: AbortSignal | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Whether `/v2/` answered as a registry does: 200 (null: no challenge) or 401 (its challenge);
 * undefined for anything else.
 */
async function apiAnswer(res: HttpResponse): Promise<Challenge | null | undefined> {
  if (res.statusCode !== 200 && res.statusCode !== 401) return undefined;
  await discard(res);
  if (res.statusCode === 200) return null;
  return pickChallenge(parseWwwAuthenticate(res.headers["www-authenticate"])) ?? null;
}

/**
 * `GET /v2/` in plain HTTP, once: the endpoint when a registry answers it (200, 401), undefined
 * when the port may speak TLS or answered something else (a TLS port's 400, a closed
 * connection, a 5xx the HTTPS-then-HTTP discovery handles with its retries).
 */
async function plainProbe(http: HttpContext): Promise<Endpoint | undefined> {
  const origin = `http://${http.host}`;
  let res: HttpResponse;
  try {
    res = await sendWithRetry(http, {
      url: new URL("/v2/", origin),
      method: "GET",
      headers: {},
      retryable: false,
      what: "GET /v2/ (API check)",
    });
  } catch (e) {
    // a TLS port closes the connection or answers bytes that are not HTTP; anything else
    // (refused, a timeout, cancelled) would fail the same way over HTTPS
    if (isPeerSpeaksOtherProtocol((e as { cause?: unknown }).cause)) return undefined;
    throw e;
  }
  const challenge = await apiAnswer(res);
  if (challenge !== undefined) return { origin, challenge: challenge ?? undefined };
  await discard(res);
  return undefined;
}
const MAX_REDIRECTS = 5;

/**
 * An HTTP client for one registry: picks HTTPS or plain HTTP, answers auth
 * challenges (Basic, Bearer tokens cached per scope set), retries transient failures.
 */
export class RegistryClient {
  /** The registry as the user named it, for messages and credential lookup. */
  readonly registry: string;
  /** host:port requests go to. */
  readonly host: string;
  readonly insecure: boolean;
  readonly http: HttpContext;
  private originPromise: Promise<string> | undefined;
  private challenge: Challenge | undefined;
  private credentials: Promise<ResolvedCredentials> | undefined;
  private readonly tokens = new TokenCache();
  private readonly inflight = new Map<string, Promise<BearerToken>>();
  /** Token requests made (observable for tests and debugging). */
  tokenRequests = 0;

  constructor(
    registry: string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.registry = registry;
    this.host = endpointHost(registry);
    this.insecure = opts.insecure === true;
    const env = opts.env ?? process.env;
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const policy: RetryPolicy = {
      retries: opts.retries ?? DEFAULT_RETRY.retries,
      baseDelayMs: opts.retryBaseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
      maxDelayMs: opts.maxRetryDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    };
    this.http = {
      dispatcher: httpDispatcher({ insecure: this.insecure, env, timeoutMs }),
      policy,
      timeoutMs,
      signal: opts.signal,
      host: this.host,
      userAgent: opts.userAgent ?? `ocipatch/${VERSION}`,
      onRetry: (info) =>
        opts.progress?.info?.(`retrying ${info.what} (${info.reason}), attempt ${info.attempt + 1}`),
    };
  }

  get retryPolicy(): RetryPolicy {
    return this.http.policy;
  }

  /** `https://host:port` or `http://host:port`, found by asking `/v2/` once. */
  origin(): Promise<string> {
    if (!this.originPromise) {
      const cache = this.opts.endpoints;
      const key = `${this.insecure ? "insecure:" : ""}${this.host}`;
      let found = cache?.get(key);
      if (!found) {
        found = this.discover();
        cache?.set(key, found);
        const mine = found;
        mine.catch(() => {
          if (cache?.get(key) === mine) cache.delete(key);
        });
      }
      this.originPromise = found.then((e) => {
        this.challenge = e.challenge;
        return e.origin;
      });
      this.originPromise.catch(() => {
        this.originPromise = undefined;
      });
    }
    return this.originPromise;
  }

  private async discover(): Promise<Endpoint> {
    // A loopback port speaks one protocol: asking it in plain HTTP first costs one local round
    // trip when it speaks TLS, and spares the TLS set-up (CA bundles parsed, ~40 ms) when not.
    if (isLoopbackHost(this.host) && hasExplicitPort(this.host)) {
      const plain = await plainProbe(this.http);
      if (plain !== undefined) return plain;
    }
    const plainAllowed = this.insecure || isLoopbackHost(this.host);
    const schemes = plainAllowed ? ["https", "http"] : ["https"];
    for (const scheme of schemes) {
      const origin = `${scheme}://${this.host}`;
      const canFallBack = scheme === "https" && schemes.length > 1;
      let res: HttpResponse;
      try {
        res = await sendWithRetry(this.http, {
          url: new URL("/v2/", origin),
          method: "GET",
          headers: {},
          // a failed TLS probe of a plain-HTTP registry is not worth retrying
          retryable: !canFallBack,
          what: "GET /v2/ (API check)",
        });
      } catch (e) {
        const cause = (e as { cause?: unknown }).cause;
        const fallBack =
          canFallBack &&
          (this.insecure ||
            isTlsProtocolMismatch(cause) ||
            (isConnectionRefused(cause) && !hasExplicitPort(this.host)));
        if (fallBack) continue;
        throw e;
      }
      const challenge = await apiAnswer(res);
      if (challenge !== undefined) return { origin, challenge: challenge ?? undefined };
      const text = await bodyText(res);
      if (res.statusCode === 404) {
        throw new OcipatchError(
          "REGISTRY",
          `${this.registry} does not look like a container registry (HTTP 404 for /v2/)`,
        );
      }
      throw statusError(res.statusCode, text, { registry: this.registry, what: "GET /v2/" });
    }
    throw new OcipatchError("INTERNAL", "no scheme to try");
  }

  private resolvedCredentials(): Promise<ResolvedCredentials> {
    if (!this.credentials) {
      this.credentials = resolveCredentials(this.registry, {
        credentials: this.opts.credentials,
        env: this.opts.env,
        homeDir: this.opts.homeDir,
        signal: this.opts.signal,
      });
      this.credentials.catch(() => {
        this.credentials = undefined;
      });
    }
    return this.credentials;
  }

  /** Where the credentials come from (`anonymous` when there are none). */
  async credentialSource(): Promise<string> {
    return (await this.resolvedCredentials()).source;
  }

  /** The Authorization header for a scope set, or undefined (anonymous). */
  private async authorization(scopes: readonly string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    const { credentials, source } = await this.resolvedCredentials();
    if (ch.scheme === "basic") {
      return isBasic(credentials)
        ? basicAuthorization(credentials.username, credentials.password)
        : undefined;
    }
    if (ch.scheme !== "bearer") return undefined;
    if (isRegistryToken(credentials)) return `Bearer ${credentials.registryToken}`;
    const key = tokenCacheKey(ch, scopes);
    const cached = this.tokens.get(key);
    if (cached) return `Bearer ${cached.token}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      this.tokenRequests++;
      pending = fetchToken(this.http, {
        registry: this.registry,
        challenge: ch,
        scopes,
        credentials,
        credentialSource: source,
        insecure: this.insecure,
      });
      this.inflight.set(key, pending);
      pending.then(
        (t) => {
          this.tokens.set(key, t);
          this.inflight.delete(key);
        },
        () => this.inflight.delete(key),
      );
    }
    return `Bearer ${(await pending).token}`;
  }

  /** Whether another try could answer this 401. */
  private async canAnswer(ch: Challenge, sent: string | undefined): Promise<boolean> {
    if (ch.scheme === "bearer") return true;
    if (ch.scheme === "basic") {
      if (sent?.startsWith("Basic ")) return false;
      return isBasic((await this.resolvedCredentials()).credentials);
    }
    return false;
  }

  /** The HTTP context with a request's own signal combined with the client's. */
  contextFor(signal: AbortSignal | undefined): HttpContext {
    if (!signal || signal === this.http.signal) return this.http;
    const combined = this.http.signal ? AbortSignal.any([this.http.signal, signal]) : signal;
    return { ...this.http, signal: combined };
  }

  /** Send a request; returns the response when its status is expected, throws otherwise. */
  async send(req: ClientRequest): Promise<HttpResponse> {
    const origin = await this.origin();
    let url = typeof req.target === "string" ? new URL(req.target, origin) : req.target;
    let scopes = [...req.scopes];
    let authRetried = false;
    let redirects = 0;
    const replayable = typeof req.body !== "function";
    const retryable = req.retryable ?? replayable;
    for (;;) {
      const toRegistry = url.origin === new URL(origin).origin;
      const auth = toRegistry ? await this.authorization(scopes) : undefined;
      const headers: Record<string, string> = { ...req.headers };
      if (auth) headers["authorization"] = auth;
      const res = await sendWithRetry(this.contextFor(req.signal), {
        url,
        method: req.method,
        headers,
        body: req.body,
        retryable,
        what: req.what,
      });
      const status = res.statusCode;
      if (status === 401 && toRegistry && !authRetried) {
        const ch = pickChallenge(parseWwwAuthenticate(res.headers["www-authenticate"]));
        if (ch && (await this.canAnswer(ch, auth))) {
          await discard(res);
          authRetried = true;
          if (this.challenge?.scheme === "bearer") this.tokens.delete(tokenCacheKey(this.challenge, scopes));
          const extra = ch.scheme === "bearer" ? (ch.params["scope"]?.split(" ").filter(Boolean) ?? []) : [];
          scopes = mergeScopes(scopes, extra);
          this.challenge = ch;
          if (!replayable) {
            throw new OcipatchError(
              "AUTH_FAILED",
              `registry ${this.registry} asked to authenticate again during ${req.what}`,
              {
                details: { restartable: true },
              },
            );
          }
          continue;
        }
      }
      if (REDIRECTS.has(status) && req.followRedirects && replayable) {
        const location = headerValue(res, "location");
        await discard(res);
        if (!location || ++redirects > MAX_REDIRECTS) {
          throw new OcipatchError(
            "REGISTRY",
            `registry ${this.registry} redirected ${req.what} too often or nowhere`,
          );
        }
        url = new URL(location, url);
        continue;
      }
      if (req.expect.includes(status)) return res;
      const text = req.method === "HEAD" ? "" : await bodyText(res);
      const creds = await this.resolvedCredentials();
      const source = auth && creds.credentials ? creds.source : undefined;
      const err = statusError(
        status,
        text,
        { registry: this.registry, what: req.what, credentialSource: source },
        req.notFound,
      );
      // a caller that restarts a whole operation (an upload) waits as long as the registry asked
      const retryAfterMs = parseRetryAfter(headerValue(res, "retry-after"));
      if (retryAfterMs !== undefined && err.details) err.details["retryAfterMs"] = retryAfterMs;
      throw err;
    }
  }
}
