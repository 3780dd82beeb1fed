import { mkdir } from "node:fs/promises";
import { forEachLimit } from "../transport/concurrency.js";
import type { ProgressListener } from "../util/progress.js";
import type { ArtifactDownload, FetchOutcome, VanishedArtifact } from "./types.js";

/** What fetching one planned file came to. */
export type FetchedOne<V extends VanishedArtifact = VanishedArtifact> =
  | { readonly kind: "cached"; readonly file: string }
  | { readonly kind: "downloaded"; readonly file: string; readonly bytes: number }
  | { readonly kind: "vanished"; readonly error: V };

export interface FetchPoolOptions {
  readonly cacheDir: string;
  /** Parallel downloads (default 4). */
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
}

/**
 * The shared shape of every backend's `fetch`: the cache directory made, the files fetched by a
 * bounded pool (`one` checks the cache, downloads and verifies one file), the results kept in
 * input order, vanished files collected in input order, bytes and cache hits counted.
 */
export async function fetchPool<T extends ArtifactDownload, V extends VanishedArtifact = VanishedArtifact>(
  items: readonly T[],
  opts: FetchPoolOptions,
  one: (item: T, signal: AbortSignal) => Promise<FetchedOne<V>>,
): Promise<FetchOutcome & { readonly vanished: readonly V[] }> {
  await mkdir(opts.cacheDir, { recursive: true });
  const files: Array<string | undefined> = new Array(items.length);
  const vanished: Array<{ i: number; error: V }> = [];
  let bytes = 0;
  let fromCache = 0;
  opts.progress?.phase?.(
    "Downloading packages",
    items.reduce((n, i) => n + i.size, 0),
  );
  await forEachLimit(
    items.map((item, i) => ({ item, i })),
    opts.concurrency ?? 4,
    async ({ item, i }, signal) => {
      const got = await one(item, signal);
      if (got.kind === "vanished") {
        vanished.push({ i, error: got.error });
        return;
      }
      if (got.kind === "cached") fromCache++;
      // (not `bytes += await …`: that reads `bytes` before the await and loses concurrent updates)
      else bytes += got.bytes;
      files[i] = got.file;
    },
    opts.signal,
  );
  vanished.sort((a, b) => a.i - b.i);
  return { files, vanished: vanished.map((v) => v.error), bytesDownloaded: bytes, fromCache };
}
