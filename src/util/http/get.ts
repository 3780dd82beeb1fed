/**
 * The one GET-with-retries of ocipatch's repository clients (apt indices, .deb/.apk/.rpm files,
 * apk and rpm metadata): the shared dispatcher (proxies, extra CAs), bounded attempts with
 * backoff and Retry-After for transient answers and broken connections, cancellation, and
 * 404/410 and 304 returned to the caller. What to do with a 2xx body is the caller's `consume`.
 */
import type { IncomingHttpHeaders } from "node:http";
import { type Dispatcher, request, errors as undiciErrors } from "undici";
import { OcipatchError } from "../../errors.js";
import { chunksOf } from "../streams.js";
import { httpDispatcher } from "./dispatcher.js";
import { redactUrl } from "./redact.js";
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, retryDelay, sleep } from "./retry.js";

interface GetOptions {
  readonly signal?: AbortSignal | undefined;
  /** Per-request timeout for headers and body inactivity. Default 60 s. */
  readonly timeoutMs?: number | undefined;
  /** Attempts for transient failures (connection errors, 408/425/429/5xx). Default 3. */
  readonly attempts?: number | undefined;
  /** First retry delay in ms (doubles each time). Default 250. */
  readonly backoffMs?: number | undefined;
  readonly userAgent?: string | undefined;
  /** Extra request headers (conditional requests). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Called before each request is sent (counters). */
  readonly onRequest?: (() => void) | undefined;
}

type ResponseBody = Dispatcher.ResponseData["body"];

type GetResult<T> =
  | { readonly kind: "ok"; readonly value: T; readonly headers: IncomingHttpHeaders }
  | { readonly kind: "not-found"; readonly status: number }
  | { readonly kind: "not-modified"; readonly headers: IncomingHttpHeaders };

/**
 * A failure inside `consume` worth another attempt (the connection broke mid-body). Other
 * OcipatchErrors from `consume` (a digest mismatch, a body too large) end the GET at once.
 */
export function retryableFailure(message: string, cause?: unknown): OcipatchError {
  return new OcipatchError("NETWORK", message, { cause, details: { retryable: true } });
}

function isRetryable(e: unknown): boolean {
  // errors from undici and the socket are transient; ours only when marked so
  return !(e instanceof OcipatchError) || e.details?.["retryable"] === true;
}

function describe(e: unknown, timeoutMs: number): string {
  if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError)
    return `timed out after ${timeoutMs} ms`;
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  const msg = err.cause?.message ?? err.message ?? String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * GET `url`, retrying transient failures; a 2xx body goes to `consume` (called again on a new
 * attempt when it throws a `retryableFailure` or the connection breaks). Non-2xx answers other than
 * 304/404/410 and the transient ones throw NETWORK (AUTH_FAILED for 401/403).
 */
export async function getWithRetries<T>(
  url: string,
  opts: GetOptions,
  consume: (body: ResponseBody, headers: IncomingHttpHeaders) => Promise<T>,
): Promise<GetResult<T>> {
  const shown = redactUrl(url);
  const attempts = opts.attempts ?? 3;
  const timeout = opts.timeoutMs ?? 60_000;
  const policy: RetryPolicy = {
    retries: attempts - 1,
    baseDelayMs: opts.backoffMs ?? 250,
    maxDelayMs: 30_000,
  };
  const cancelled = (cause?: unknown) =>
    new OcipatchError("CANCELLED", `GET ${shown} cancelled`, cause === undefined ? {} : { cause });
  let last = "";
  let retryAfterMs: number | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) throw cancelled();
    if (attempt > 1) {
      await sleep(retryDelay(policy, attempt - 1, retryAfterMs), opts.signal).catch(() => {
        throw cancelled();
      });
      retryAfterMs = undefined;
    }
    try {
      opts.onRequest?.();
      const res = await request(url, {
        method: "GET",
        headers: { "user-agent": opts.userAgent ?? "ocipatch", ...opts.headers },
        headersTimeout: timeout,
        bodyTimeout: timeout,
        maxRedirections: 5,
        dispatcher: httpDispatcher({ timeoutMs: timeout }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const status = res.statusCode;
      if (status === 304) {
        await res.body.dump();
        return { kind: "not-modified", headers: res.headers };
      }
      if (status === 404 || status === 410) {
        await res.body.dump();
        return { kind: "not-found", status };
      }
      if (isRetryableStatus(status)) {
        retryAfterMs = parseRetryAfter(headerValue(res.headers["retry-after"]));
        await res.body.dump();
        last = `HTTP ${status}`;
        continue;
      }
      if (status < 200 || status >= 300) {
        await res.body.dump();
        const code = status === 401 || status === 403 ? "AUTH_FAILED" : "NETWORK";
        throw new OcipatchError(code, `GET ${shown} failed: HTTP ${status}`);
      }
      // a connection that breaks before `consume` reads the body must not be an unhandled 'error'
      res.body.on("error", () => undefined);
      return { kind: "ok", value: await consume(res.body, res.headers), headers: res.headers };
    } catch (e) {
      if (opts.signal?.aborted) throw cancelled(e);
      if (!isRetryable(e)) throw e;
      last = describe(e, timeout);
    }
  }
  throw new OcipatchError("NETWORK", `GET ${shown} failed after ${attempts} attempts: ${last}`);
}

/**
 * A bound known only later: up to `first` bytes are read before it, then the reader waits for
 * `later` (the connection's own buffers pause the sender meanwhile; a body without a length is not
 * paused, and is stopped once 64 MiB of it wait: see `bodyEndInterceptor`).
 */
export interface LateBound {
  readonly first: number;
  readonly later: Promise<number>;
}

/**
 * Read a whole body, refusing more than `maxBytes`. A connection that closes after every
 * announced byte arrived (proxies that close instead of ending the message) still counts as
 * complete; one that breaks earlier is retryable.
 */
export async function readBounded(
  body: ResponseBody,
  headers: IncomingHttpHeaders,
  maxBytes: number | LateBound,
  what: string,
  onChunk?: (bytes: number) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const length = Number(headerValue(headers["content-length"]) ?? Number.NaN);
  let max = typeof maxBytes === "number" ? maxBytes : undefined;
  let n = 0;
  try {
    for await (const b of chunksOf(body)) {
      n += b.length;
      onChunk?.(b.length);
      if (max === undefined && typeof maxBytes !== "number" && n > maxBytes.first) max = await maxBytes.later;
      if (max !== undefined && n > max) {
        body.destroy();
        throw new OcipatchError("INVALID_FORMAT", `GET ${what}: response larger than ${max} bytes`, {
          details: { maxBytes: max },
        });
      }
      chunks.push(b);
    }
  } catch (e) {
    if (e instanceof OcipatchError) throw e;
    if (n !== length) throw retryableFailure(`GET ${what}: connection broke after ${n} bytes`, e);
  }
  return Buffer.concat(chunks, n);
}

/** One bounded GET of a whole file: its bytes, or "not-found" for HTTP 404/410. */
export async function getBytes(
  url: string,
  opts: GetOptions & { readonly maxBytes: number },
): Promise<Buffer | "not-found"> {
  const r = await getWithRetries(url, opts, (body, headers) =>
    readBounded(body, headers, opts.maxBytes, redactUrl(url)),
  );
  if (r.kind === "not-modified")
    throw new OcipatchError("NETWORK", `GET ${redactUrl(url)}: unexpected HTTP 304`);
  return r.kind === "ok" ? r.value : "not-found";
}
