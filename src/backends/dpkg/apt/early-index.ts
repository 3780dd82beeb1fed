import { getWithRetries, readBounded } from "../../../util/http/get.js";
import { redactUrl } from "../../../util/http/redact.js";
import type { FetchStats, HttpOptions } from "./http.js";

/**
 * How much of an index fetched early is read before its signed size is known; the rest waits for
 * the Release (the connection's own buffers pause the sender meanwhile).
 */
const EARLY_UNSIGNED_BYTES = 1024 * 1024;

/**
 * A Packages file fetched while its repository's Release still is (a cold cache). Nothing read
 * here is trusted: the client takes `body` only if it matches the signed Release. Beyond the
 * first MiB it reads no more than the signed size (`bound`), so a mirror sending more gets
 * no further than it would after the Release. Any failure gives undefined (the usual download
 * after the Release then reports what is wrong).
 */
export class EarlyIndex {
  readonly body: Promise<Buffer | undefined>;
  private setBound: (bytes: number) => void = () => undefined;
  private readonly signedSize = new Promise<number>((resolve) => {
    this.setBound = resolve;
  });

  constructor(url: string, stats: FetchStats, http: HttpOptions = {}) {
    this.body = getWithRetries(
      url,
      {
        signal: http.signal,
        attempts: 1,
        timeoutMs: http.timeoutMs ?? 30_000,
        userAgent: "ocipatch (apt repository client)",
        onRequest: () => {
          stats.requests++;
        },
      },
      (body, headers) =>
        readBounded(
          body,
          headers,
          { first: EARLY_UNSIGNED_BYTES, later: this.signedSize },
          redactUrl(url),
          (n) => {
            stats.bytesDownloaded += n;
          },
        ),
    ).then(
      (r) => (r.kind === "ok" ? r.value : undefined),
      () => undefined, // the usual download after the Release reports what is wrong
    );
  }

  /** The size the signed Release gives the file (0: it does not list it, or the Release failed). */
  bound(bytes: number): void {
    this.setBound(bytes);
  }
}
