import type { Readable } from "node:stream";
import { type Dispatcher, request } from "undici";
import type { OcipatchError } from "../../errors.js";
import {
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryDelay,
  sleep,
} from "../../util/http/retry.js";
import { chunksOf } from "../../util/streams.js";
import { isConnectionRefused, isTransientNetworkError, networkError } from "./errors.js";

/** One HTTP exchange with bounded retries; the caller interprets the status. */

export type HttpMethod = "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";

interface HttpRequest {
  readonly url: URL;
  readonly method: HttpMethod;
  readonly headers: Record<string, string>;
  /**
   * A Buffer/string is replayable; a function producing a stream is called once per
   * attempt only when `retryable` (otherwise once).
   */
  readonly body?: Buffer | string | (() => Readable) | undefined;
  /** Whether transient failures (429/502/503/504, resets) may be retried. */
  readonly retryable: boolean;
  /**
   * Whether a refused connection is transient too (a token server restarting in the middle
   * of a run). Off for registries: a wrong host or port fails at once.
   */
  readonly retryRefused?: boolean | undefined;
  /** For messages: `GET manifest 127.0.0.1:5000/app:1`. Never holds secrets or query strings. */
  readonly what: string;
}

export interface HttpContext {
  readonly dispatcher: Dispatcher;
  readonly policy: RetryPolicy;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** host:port the request goes to, for messages. */
  readonly host: string;
  /** How to name the peer in messages (default `registry <host>`). */
  readonly peer?: string | undefined;
  readonly userAgent: string;
  /** Called before each retry (for tests and debug logs). */
  readonly onRetry?:
    | ((info: { what: string; attempt: number; delayMs: number; reason: string }) => void)
    | undefined;
}

export type HttpResponse = Dispatcher.ResponseData;

/** Read a (small) response body as text, bounded. */
export async function bodyText(res: HttpResponse, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const b of chunksOf(res.body)) {
    n += b.length;
    if (n > limit) {
      abandonBody(res);
      break;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Abandon a response body (too large, not wanted): destroying undici's body makes it emit
 * "Request aborted" later; without a listener that is an unhandled error (a second error line).
 */
export function abandonBody(res: HttpResponse): void {
  res.body.on("error", () => undefined);
  res.body.destroy();
}

/** Discard a response body so the connection can be reused. */
export async function discard(res: HttpResponse): Promise<void> {
  try {
    await res.body.dump({ limit: 64 * 1024 });
  } catch {
    // the connection is closed instead; nothing to do
  }
}

export function headerValue(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  if (Array.isArray(v)) return v[0];
  return v;
}

/**
 * Send a request; retry transient failures when allowed, honouring Retry-After.
 * Returns the last response (which may still be a 429/5xx when retries ran out).
 */
export async function sendWithRetry(ctx: HttpContext, req: HttpRequest): Promise<HttpResponse> {
  const maxAttempts = req.retryable ? ctx.policy.retries + 1 : 1;
  for (let attempt = 1; ; attempt++) {
    let res: HttpResponse;
    try {
      const body = typeof req.body === "function" ? req.body() : req.body;
      res = await request(req.url, {
        dispatcher: ctx.dispatcher,
        method: req.method,
        headers: { "user-agent": ctx.userAgent, ...req.headers },
        body: body ?? null,
        signal: ctx.signal ?? null,
        headersTimeout: ctx.timeoutMs,
        bodyTimeout: ctx.timeoutMs,
      });
    } catch (e) {
      const mapped: OcipatchError = networkError(e, {
        host: ctx.host,
        what: req.what,
        timeoutMs: ctx.timeoutMs,
        signal: ctx.signal,
        ...(ctx.peer ? { peer: ctx.peer } : {}),
      });
      const transient = isTransientNetworkError(e) || (req.retryRefused === true && isConnectionRefused(e));
      if (attempt < maxAttempts && transient && !ctx.signal?.aborted) {
        const delayMs = retryDelay(ctx.policy, attempt);
        ctx.onRetry?.({ what: req.what, attempt, delayMs, reason: mapped.message });
        await sleep(delayMs, ctx.signal);
        continue;
      }
      throw mapped;
    }
    if (attempt < maxAttempts && isRetryableStatus(res.statusCode)) {
      const after = parseRetryAfter(headerValue(res, "retry-after"));
      await discard(res);
      const delayMs = retryDelay(ctx.policy, attempt, after);
      ctx.onRetry?.({ what: req.what, attempt, delayMs, reason: `HTTP ${res.statusCode}` });
      await sleep(delayMs, ctx.signal);
      continue;
    }
    return res;
  }
}
