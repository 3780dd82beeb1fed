import { getWithRetries, headerValue, readBounded } from "../../../util/http/get.js";
import { redactUrl } from "../../../util/http/redact.js";

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

interface GetResult {
  readonly status: 200 | 304 | 404;
  readonly body: Buffer | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
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
  const headers: Record<string, string> = {};
  if (conditional.etag) headers["if-none-match"] = conditional.etag;
  if (conditional.lastModified) headers["if-modified-since"] = conditional.lastModified;
  const maxBytes = opts.maxBytes ?? 512 * 1024 * 1024;
  const got = await getWithRetries(
    url,
    {
      signal: opts.signal,
      attempts: opts.attempts,
      backoffMs: opts.backoffMs,
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: "ocipatch (apt repository client)",
      headers,
      onRequest: () => {
        stats.requests++;
      },
    },
    // callers check the content against the signed hashes
    (body, h) => readBounded(body, h, maxBytes, redactUrl(url), (n) => (stats.bytesDownloaded += n)),
  );
  if (got.kind === "not-found")
    return { status: 404, body: undefined, etag: undefined, lastModified: undefined };
  const etag = headerValue(got.headers["etag"]);
  const lastModified = headerValue(got.headers["last-modified"]);
  if (got.kind === "not-modified") {
    stats.notModified++;
    return { status: 304, body: undefined, etag, lastModified };
  }
  return { status: 200, body: got.value, etag, lastModified };
}
