import { OcipatchError } from "../../errors.js";

/** Retry policy for every HTTP request (registries, mirrors, downloads, feeds): bounded, exponential backoff with jitter. */
export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * HTTP statuses worth retrying: request timeout, rate limiting, and server failures that
 * are usually passing (500 included: registries answer it for a storage hiccup). 501 and
 * 505 are permanent and not retried.
 */
export function isRetryableStatus(status: number): boolean {
  return (
    status === 408 ||
    status === 425 ||
    status === 429 ||
    status === 500 ||
    status === 502 ||
    status === 503 ||
    status === 504
  );
}

/**
 * `Retry-After`: delay-seconds or an HTTP date. Returns milliseconds, or undefined
 * when absent or unparseable.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** The delay a failed request's error asks for (`Retry-After`, recorded by the client). */
export function retryAfterOf(e: unknown): number | undefined {
  if (!(e instanceof OcipatchError)) return undefined;
  const v = e.details?.["retryAfterMs"];
  return typeof v === "number" ? v : undefined;
}

/** Delay before retry number `attempt` (1-based): the server's wish if any, else backoff with jitter. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  // "equal jitter": at least half the backoff, so retries never bunch up at zero
  return cap / 2 + Math.random() * (cap / 2);
}

/** Sleep that an AbortSignal cuts short (rejecting with CANCELLED). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelled(signal));
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled(signal));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function cancelled(signal?: AbortSignal): OcipatchError {
  return new OcipatchError("CANCELLED", "operation cancelled", { cause: signal?.reason });
}
