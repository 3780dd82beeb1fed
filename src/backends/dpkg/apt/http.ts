import { request, errors as undiciErrors } from "undici";
import { OcipatchError } from "../../../errors.js";
import { httpDispatcher } from "../../../util/http/dispatcher.js";
import { redactUrl } from "../../../util/http/redact.js";
import {
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
  sleep,
} from "../../../util/http/retry.js";

/** Counters for what the apt client did over the network (the benchmark reads them). */
export interface FetchStats {
  /** Response body bytes received (compressed, as on the wire). */
  bytesDownloaded: number;
  requests: number;
  /** Conditional requests answered 304. */
  notModified: number;
  /** Files served from the cache without any request. */
  cacheHits: number;
}

export function newStats(): FetchStats {
  return { bytesDownloaded: 0, requests: 0, notModified: 0, cacheHits: 0 };
}

export interface HttpOptions {
  /** Attempts for transient failures (connection errors, 408/429/5xx). Default 3. */
  readonly attempts?: number;
  /** First retry delay in ms (doubles each time). Default 250. */
  readonly backoffMs?: number;
  /** Per-request timeout for headers and body inactivity. Default 30 s. */
  readonly timeoutMs?: number;
  /** Largest body accepted. Default 512 MiB. */
  readonly maxBytes?: number;
  readonly signal?: AbortSignal;
}

export interface GetResult {
  readonly status: 200 | 304 | 404;
  readonly body: Buffer | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

function describeNetworkError(e: unknown): string {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = err.code ?? err.cause?.code;
  const msg = err.cause?.message ?? err.message ?? String(e);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

/**
 * GET a URL with bounded retries on transient failures. 404/410 are returned (callers
 * decide whether a missing file is an error); other non-2xx answers throw.
 */
export async function httpGet(
  url: string,
  stats: FetchStats,
  conditional: { etag?: string | undefined; lastModified?: string | undefined } = {},
  opts: HttpOptions = {},
): Promise<GetResult> {
  const attempts = opts.attempts ?? 3;
  const policy: RetryPolicy = {
    retries: attempts - 1,
    baseDelayMs: opts.backoffMs ?? 250,
    maxDelayMs: 30_000,
  };
  let retryAfterMs: number | undefined;
  const timeout = opts.timeoutMs ?? 30_000;
  const maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
  const shown = redactUrl(url);
  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) throw new OcipatchError("CANCELLED", `download of ${shown} cancelled`);
    if (attempt > 1) {
      await sleep(retryDelay(policy, attempt - 1, retryAfterMs), opts.signal).catch(() => {
        throw new OcipatchError("CANCELLED", `download of ${shown} cancelled`);
      });
      retryAfterMs = undefined;
    }
    const headers: Record<string, string> = { "user-agent": "ocipatch (apt repository client)" };
    if (conditional.etag) headers["if-none-match"] = conditional.etag;
    if (conditional.lastModified) headers["if-modified-since"] = conditional.lastModified;
    stats.requests++;
    try {
      const res = await request(url, {
        method: "GET",
        headers,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        maxRedirections: 5,
        dispatcher: httpDispatcher({ timeoutMs: timeout }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const etag = headerValue(res.headers["etag"]);
      const lastModified = headerValue(res.headers["last-modified"]);
      if (res.statusCode === 304) {
        await res.body.dump();
        stats.notModified++;
        return { status: 304, body: undefined, etag, lastModified };
      }
      if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump();
        return { status: 404, body: undefined, etag, lastModified };
      }
      if (isRetryableStatus(res.statusCode)) {
        await res.body.dump();
        lastError = `HTTP ${res.statusCode}`;
        retryAfterMs = parseRetryAfter(headerValue(res.headers["retry-after"]));
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        const code = res.statusCode === 401 || res.statusCode === 403 ? "AUTH_FAILED" : "NETWORK";
        throw new OcipatchError(code, `GET ${shown} failed: HTTP ${res.statusCode}`);
      }
      const chunks: Buffer[] = [];
      let n = 0;
      const length = Number(headerValue(res.headers["content-length"]) ?? Number.NaN);
      try {
        for await (const c of res.body) {
          const b = c as Buffer;
          n += b.length;
          stats.bytesDownloaded += b.length;
          if (n > maxBytes) {
            // a listener first: the destroyed body emits "Request aborted" later
            res.body.on("error", () => undefined);
            res.body.destroy();
            throw new OcipatchError(
              "INVALID_FORMAT",
              `GET ${shown}: response larger than ${maxBytes} bytes`,
              {
                details: { maxBytes },
              },
            );
          }
          chunks.push(b);
        }
      } catch (e) {
        // every byte the server announced arrived, then the connection closed instead of
        // ending the message (proxies that close without `Connection: close`); callers
        // check the content against the signed hashes
        if (e instanceof OcipatchError || opts.signal?.aborted || n !== length) throw e;
      }
      return { status: 200, body: Buffer.concat(chunks), etag, lastModified };
    } catch (e) {
      if (e instanceof OcipatchError) throw e;
      if (opts.signal?.aborted) throw new OcipatchError("CANCELLED", `download of ${shown} cancelled`);
      lastError = describeNetworkError(e);
      if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError) {
        lastError = `timed out after ${timeout} ms`;
      }
    }
  }
  throw new OcipatchError("NETWORK", `GET ${shown} failed after ${attempts} attempts: ${lastError}`);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
