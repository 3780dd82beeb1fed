/**
 * One bounded GET of a repository file (an APKINDEX.tar.gz or a .apk) through the shared HTTP
 * layer (proxies, extra CAs, retry policy with Retry-After). The body is returned whole: apk
 * files are verified as a unit (signature over gzip members), and their size is bounded.
 */
import { request } from "undici";
import { OcipatchError } from "../../errors.js";
import { httpDispatcher } from "../../util/http/dispatcher.js";
import { redactUrl } from "../../util/http/redact.js";
import { isRetryableStatus, parseRetryAfter, retryDelay, sleep } from "../../util/http/retry.js";

export interface GetOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number;
  readonly attempts?: number;
  /** Refuse a body larger than this. */
  readonly maxBytes: number;
}

/** The body, or "not-found" for HTTP 404/410. Other failures → NETWORK / CANCELLED. */
export async function getBytes(url: string, opts: GetOptions): Promise<Buffer | "not-found"> {
  const shown = redactUrl(url);
  const attempts = opts.attempts ?? 3;
  const timeout = opts.timeoutMs ?? 60_000;
  let last: unknown;
  let retryAfterMs: number | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (opts.signal?.aborted) throw new OcipatchError("CANCELLED", `GET ${shown} cancelled`);
    if (attempt > 1) {
      const policy = { retries: attempts - 1, baseDelayMs: 250, maxDelayMs: 30_000 };
      await sleep(retryDelay(policy, attempt - 1, retryAfterMs), opts.signal).catch(() => {
        throw new OcipatchError("CANCELLED", `GET ${shown} cancelled`);
      });
      retryAfterMs = undefined;
    }
    try {
      const res = await request(url, {
        method: "GET",
        headers: { "user-agent": "ocipatch (apk repository)" },
        headersTimeout: timeout,
        bodyTimeout: timeout,
        maxRedirections: 5,
        dispatcher: httpDispatcher({ timeoutMs: timeout }),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (res.statusCode === 404 || res.statusCode === 410) {
        await res.body.dump();
        return "not-found";
      }
      if (isRetryableStatus(res.statusCode)) {
        const ra = res.headers["retry-after"];
        retryAfterMs = parseRetryAfter(Array.isArray(ra) ? ra[0] : ra);
        await res.body.dump();
        last = new OcipatchError("NETWORK", `GET ${shown}: HTTP ${res.statusCode}`);
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        // a definite answer: not retried
        throw new OcipatchError("NETWORK", `GET ${shown} failed: HTTP ${res.statusCode}`, {
          details: { final: true },
        });
      }
      const parts: Buffer[] = [];
      let n = 0;
      for await (const c of res.body) {
        n += (c as Buffer).length;
        if (n > opts.maxBytes) {
          res.body.destroy();
          throw new OcipatchError("INVALID_FORMAT", `GET ${shown}: larger than ${opts.maxBytes} bytes`);
        }
        parts.push(c as Buffer);
      }
      return Buffer.concat(parts, n);
    } catch (e) {
      if (opts.signal?.aborted) throw new OcipatchError("CANCELLED", `GET ${shown} cancelled`, { cause: e });
      if (e instanceof OcipatchError && (e.code !== "NETWORK" || e.details?.["final"] === true)) throw e;
      last = e;
    }
  }
  const why = last instanceof Error ? last.message : String(last);
  throw new OcipatchError("NETWORK", `cannot GET ${shown}: ${why}`, { cause: last });
}
