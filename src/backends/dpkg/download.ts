import { createReadStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import { DigestStream, parseDigest } from "../../util/digest.js";
import { partialSibling } from "../../util/fs.js";
import { getWithRetries, retryableFailure } from "../../util/http/get.js";
import { redactUrl } from "../../util/http/redact.js";
import type { ProgressListener } from "../../util/progress.js";
import { chunksOf } from "../../util/streams.js";
import { saveVerified } from "../../util/verified-file.js";
import { type FetchedOne, fetchPool } from "../fetch-pool.js";
import type { FetchRequest } from "../types.js";

/** One .deb to fetch: where from, and what it must hash to (from the signed Packages index). */
interface DebDownload {
  readonly package: string;
  readonly architecture: string;
  readonly version: string;
  readonly url: string;
  readonly sha256: string;
  readonly size: number;
}

interface DownloadOptions {
  /** Verified .debs are kept here by SHA256 and reused (like apt's archives directory). */
  readonly cacheDir: string;
  /** Parallel downloads (default 4). */
  readonly concurrency?: number;
  /** Attempts per file for transient failures (default 3). */
  readonly attempts?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
  /**
   * `fail` (default): a .deb the mirror answers 404/410 for fails the whole download
   * (DebVanished). `collect`: the others are still downloaded and the missing ones are
   * returned in `vanished` (their `files` entry is undefined).
   */
  readonly onVanished?: "fail" | "collect";
  /** Told where each file goes before any is fetched (FetchRequest.onPlanned). */
  readonly onPlanned?: FetchRequest["onPlanned"];
}

interface DownloadResult {
  /** Local verified file per download, same order as the input (undefined: vanished). */
  readonly files: ReadonlyArray<string | undefined>;
  /** With onVanished `collect`: the downloads the mirror no longer has (HTTP 404/410). */
  readonly vanished: readonly DebVanished[];
  /** Body bytes of the verified .debs fetched (cached ones not counted). */
  readonly bytesDownloaded: number;
  readonly fromCache: number;
}

/** A planned file is gone from the mirror (superseded by a newer upload): re-plan. */
class DebVanished extends OcipatchError {
  constructor(readonly item: DebDownload) {
    super(
      "NOT_FOUND",
      `${item.package} ${item.version}: ${redactUrl(item.url)} is no longer on the mirror (HTTP 404)`,
    );
  }
}

async function hashMatches(path: string, item: DebDownload): Promise<boolean> {
  try {
    if ((await stat(path)).size !== item.size) return false;
    const ds = new DigestStream({
      digest: parseDigest(`sha256:${item.sha256.toLowerCase()}`),
      size: item.size,
    });
    await pipeline(createReadStream(path), ds, async (src) => {
      for await (const _ of src) {
        // drain
      }
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * Download .debs in parallel (bounded), each verified against the SHA256 and size of
 * the signed index while it streams to disk. A file that does not verify is deleted
 * and the download fails; nothing unverified is ever returned.
 */
export function downloadDebs(items: readonly DebDownload[], opts: DownloadOptions): Promise<DownloadResult> {
  const fileOf = (item: DebDownload) => `${item.sha256.toLowerCase()}.deb`;
  return fetchPool(items, opts, fileOf, async (item, file, signal): Promise<FetchedOne<DebVanished>> => {
    const desc = {
      digest: parseDigest(`sha256:${item.sha256.toLowerCase()}`),
      size: item.size,
      label: `${item.package}_${item.version}_${item.architecture}.deb`,
    };
    if (await hashMatches(file, item)) {
      opts.progress?.blobDone?.(desc, "exists");
      return { kind: "cached" };
    }
    await rm(file, { force: true });
    opts.progress?.blobStart?.({ ...desc, mediaType: "application/vnd.debian.binary-package" }, "download");
    try {
      const bytes = await fetchVerified(item, file, { ...opts, signal }, (done) =>
        opts.progress?.blobProgress?.(desc, done),
      );
      opts.progress?.blobDone?.(desc, "download");
      return { kind: "downloaded", bytes };
    } catch (e) {
      if (!(e instanceof DebVanished) || opts.onVanished !== "collect") throw e;
      return { kind: "vanished", error: e };
    }
  });
}

async function fetchVerified(
  item: DebDownload,
  file: string,
  opts: DownloadOptions,
  onProgress: (bytes: number) => void,
): Promise<number> {
  const shown = redactUrl(item.url);
  const got = await getWithRetries(
    item.url,
    {
      signal: opts.signal,
      timeoutMs: opts.timeoutMs,
      attempts: opts.attempts,
      userAgent: "ocipatch (package download)",
    },
    async (body) => {
      // unique per attempt: two runs (or two fleet workers) may fetch the same file at once
      const part = partialSibling(file);
      let n = 0;
      async function* counted(): AsyncGenerator<Uint8Array> {
        try {
          for await (const c of chunksOf(body)) {
            n += c.length;
            onProgress(n);
            yield c;
          }
        } catch (e) {
          if (opts.signal?.aborted || isOcipatchError(e)) throw e;
          // every byte arrived, then the connection closed instead of ending the message
          // (proxies that close without `Connection: close`): the hash check decides
          if (n === item.size) return;
          // the connection broke mid-body: worth another attempt (verified again from the start)
          throw retryableFailure(`GET ${shown}: connection broke after ${n} bytes`, e);
        }
      }
      try {
        await saveVerified(counted(), part, { sha256: item.sha256, size: item.size }, shown);
        await rename(part, file);
        return n;
      } catch (e) {
        await rm(part, { force: true }).catch(() => undefined);
        if (isOcipatchError(e, "DIGEST_MISMATCH")) {
          throw new OcipatchError(
            "DIGEST_MISMATCH",
            `${item.package} ${item.version}: ${shown} does not match the SHA256 of the signed index (${e.message})`,
            { cause: e },
          );
        }
        throw e;
      }
    },
  );
  if (got.kind === "not-found") throw new DebVanished(item);
  if (got.kind === "not-modified") throw new OcipatchError("NETWORK", `GET ${shown}: unexpected HTTP 304`);
  return got.value;
}
