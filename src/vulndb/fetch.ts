import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { type Dispatcher, request } from "undici";
import { OcipatchError } from "../errors.js";
import { httpDispatcher } from "../util/http/dispatcher.js";
import { isRetryableStatus, parseRetryAfter, retryDelay, sleep } from "../util/http/retry.js";
import { discard } from "../util/streams.js";
import { USER_AGENT } from "../version.js";

/** What we remember about a location to make the next download conditional. */
interface FeedValidators {
  readonly etag?: string | undefined;
  readonly lastModified?: string | undefined;
  readonly size?: number | undefined;
  readonly mtimeMs?: number | undefined;
  /** Content hash of a download, or fingerprint of a directory. */
  readonly sha256?: string | undefined;
}

export type FetchOutcome =
  /** Unchanged since the validators were recorded (HTTP 304, or same size and mtime). */
  | { readonly kind: "not-modified" }
  /** HTTP 404 / no such file. */
  | { readonly kind: "missing"; readonly message: string }
  | {
      readonly kind: "content";
      /** Local file or directory to parse. */
      readonly path: string;
      readonly etag?: string | undefined;
      readonly lastModified?: string | undefined;
      readonly sha256?: string | undefined;
      readonly size?: number | undefined;
      readonly mtimeMs?: number | undefined;
      /** Remove the downloaded temporary file (no-op for local paths). */
      cleanup(): Promise<void>;
    };

export interface FetchOptions {
  /** Directory for downloads (same filesystem as the database). */
  readonly tmpDir: string;
  /** Ignore validators (ETag, Last-Modified, size+mtime, directory fingerprint): always download/parse. */
  readonly force?: boolean;
  /** Base for relative paths (default: the current directory). */
  readonly cwd?: string;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  /** Retries of transient failures (connection errors, 429, 5xx). */
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly dispatcher?: Dispatcher;
  readonly signal?: AbortSignal;
}

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** A location for messages: URLs without credentials or query strings. */
export function displayLocation(location: string): string {
  if (!isUrl(location)) return location;
  try {
    const u = new URL(location);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return location;
  }
}

class TransientError extends Error {
  /** The server's `Retry-After`, in ms. */
  retryAfterMs: number | undefined;
}

/**
 * Get a feed location onto local disk: a path (file or directory; `file://` URLs too)
 * is used in place, an http(s) URL is downloaded conditionally (If-None-Match /
 * If-Modified-Since) into a temporary file, verifying Content-Length.
 */
export async function fetchFeedLocation(
  location: string,
  prev: FeedValidators | undefined,
  opts: FetchOptions,
): Promise<FetchOutcome> {
  if (isUrl(location)) return fetchHttp(location, prev, opts);
  const path = location.startsWith("file://")
    ? fileURLToPath(location)
    : isAbsolute(location)
      ? location
      : resolve(opts.cwd ?? process.cwd(), location);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      return { kind: "missing", message: `${path}: no such file` };
    throw new OcipatchError("IO", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (st.isDirectory()) {
    const fingerprint = await directoryFingerprint(path);
    if (!opts.force && prev?.sha256 === fingerprint) return { kind: "not-modified" };
    return { kind: "content", path, sha256: fingerprint, cleanup: async () => {} };
  }
  if (!opts.force && prev?.size === st.size && prev.mtimeMs === st.mtimeMs) return { kind: "not-modified" };
  return { kind: "content", path, size: st.size, mtimeMs: st.mtimeMs, cleanup: async () => {} };
}

/** Hash of the names, sizes and mtimes of a directory's files: changes when any file does. */
async function directoryFingerprint(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (d: string, prefix: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = `${prefix}${e.name}`;
      if (e.isDirectory()) await walk(join(d, e.name), `${rel}/`);
      else if (e.isFile()) {
        const s = await stat(join(d, e.name));
        hash.update(`${rel}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  await walk(dir, "");
  return `dir:${hash.digest("hex")}`;
}

async function fetchHttp(
  url: string,
  prev: FeedValidators | undefined,
  opts: FetchOptions,
): Promise<FetchOutcome> {
  const retries = opts.retries ?? 2;
  const shown = displayLocation(url);
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchHttpOnce(url, prev, opts);
    } catch (e) {
      if (e instanceof TransientError && attempt < retries && !opts.signal?.aborted) {
        const policy = { retries, baseDelayMs: opts.retryDelayMs ?? 500, maxDelayMs: 30_000 };
        await sleep(retryDelay(policy, attempt + 1, e.retryAfterMs), opts.signal);
        continue;
      }
      if (e instanceof OcipatchError) throw e;
      const code = (e as { code?: string }).code;
      const timeout = code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
      throw new OcipatchError(
        timeout ? "TIMEOUT" : "NETWORK",
        `download of ${shown} failed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
}

async function fetchHttpOnce(
  url: string,
  prev: FeedValidators | undefined,
  opts: FetchOptions,
): Promise<FetchOutcome> {
  const shown = displayLocation(url);
  const headers: Record<string, string> = { "user-agent": USER_AGENT, "accept-encoding": "identity" };
  if (!opts.force && prev?.etag) headers["if-none-match"] = prev.etag;
  if (!opts.force && prev?.lastModified) headers["if-modified-since"] = prev.lastModified;
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, {
      method: "GET",
      headers,
      maxRedirections: 5,
      headersTimeout: opts.headersTimeoutMs ?? 30_000,
      bodyTimeout: opts.bodyTimeoutMs ?? 60_000,
      dispatcher: opts.dispatcher ?? httpDispatcher({ timeoutMs: opts.bodyTimeoutMs ?? 60_000 }),
      signal: opts.signal,
    });
  } catch (e) {
    const code = (e as { code?: string }).code ?? "";
    if (/ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|UND_ERR_SOCKET|EAI_AGAIN/.test(code)) {
      throw Object.assign(new TransientError((e as Error).message), { code });
    }
    throw e;
  }
  const header = (name: string): string | undefined => {
    const v = res.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (res.statusCode === 304) {
    await res.body.dump();
    return { kind: "not-modified" };
  }
  if (res.statusCode === 404 || res.statusCode === 410) {
    await res.body.dump();
    return { kind: "missing", message: `${shown}: HTTP ${res.statusCode}` };
  }
  if (isRetryableStatus(res.statusCode)) {
    await res.body.dump();
    throw Object.assign(new TransientError(`HTTP ${res.statusCode}`), {
      retryAfterMs: parseRetryAfter(header("retry-after")),
    });
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new OcipatchError(
      res.statusCode === 401 || res.statusCode === 403 ? "AUTH_FAILED" : "NETWORK",
      `download of ${shown} failed: HTTP ${res.statusCode}`,
    );
  }
  const expected = header("content-length");
  const path = join(opts.tmpDir, `.feed-${process.pid}-${randomBytes(6).toString("hex")}.download`);
  const hash = createHash("sha256");
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const out = createWriteStream(path);
  try {
    await pipeline(res.body, meter, out);
  } catch (e) {
    await discard(out);
    await rm(path, { force: true });
    if (opts.signal?.aborted) throw e;
    // the connection broke mid-body: transient, downloaded again from the start
    throw Object.assign(new TransientError(`interrupted after ${size} bytes: ${(e as Error).message}`), {
      cause: e,
    });
  }
  if (expected !== undefined && /^\d+$/.test(expected) && Number(expected) !== size) {
    await rm(path, { force: true });
    throw new TransientError(`truncated: got ${size} of ${expected} bytes`);
  }
  return {
    kind: "content",
    path,
    etag: header("etag"),
    lastModified: header("last-modified"),
    sha256: hash.digest("hex"),
    size,
    cleanup: () => rm(path, { force: true }),
  };
}
