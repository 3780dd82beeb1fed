import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { forEachLimit } from "../transport/concurrency.js";
import type { ProgressListener } from "../util/progress.js";
import type {
  ArtifactDownload,
  FetchedPackage,
  FetchOutcome,
  PendingFile,
  VanishedArtifact,
} from "./types.js";

/** What fetching one planned file came to (the file is the one `fileOf` named). */
export type FetchedOne<V extends VanishedArtifact = VanishedArtifact> =
  | { readonly kind: "cached" }
  | { readonly kind: "downloaded"; readonly bytes: number }
  | { readonly kind: "vanished"; readonly error: V };

export interface FetchPoolOptions {
  readonly cacheDir: string;
  /** Parallel downloads (default 4). */
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
  /** Told where each file goes before any is fetched (FetchRequest.onPlanned). */
  readonly onPlanned?: ((files: readonly PendingFile[]) => void) | undefined;
}

/** A promise settled from outside: one per planned file. */
function pending(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // awaited by a build that started early, if any; the fetch reports it itself
  return { promise, resolve, reject };
}

/**
 * The shared shape of every backend's `fetch`: the cache directory made, each file's place in it
 * named (`fileOf`, from the index's digest) and announced, the files fetched by a bounded pool
 * (`one` checks the cache, downloads and verifies one file), each announced file settled as soon
 * as it is there (or vanished, or the fetch failed), vanished files collected in input order,
 * bytes and cache hits counted.
 */
export async function fetchPool<T extends ArtifactDownload, V extends VanishedArtifact = VanishedArtifact>(
  items: readonly T[],
  opts: FetchPoolOptions,
  fileOf: (item: T) => string,
  one: (item: T, file: string, signal: AbortSignal) => Promise<FetchedOne<V>>,
): Promise<FetchOutcome & { readonly vanished: readonly V[] }> {
  const files = items.map((item) => join(opts.cacheDir, fileOf(item)));
  await mkdir(opts.cacheDir, { recursive: true });
  const arrived = files.map(() => pending());
  const vanished: Array<{ i: number; error: V }> = [];
  let bytes = 0;
  let fromCache = 0;
  try {
    opts.onPlanned?.(files.map((path, i) => ({ path, ready: arrived[i]!.promise })));
    opts.progress?.phase?.(
      "Downloading packages",
      items.reduce((n, i) => n + i.size, 0),
    );
    await forEachLimit(
      items.map((item, i) => ({ item, i })),
      opts.concurrency ?? 4,
      async ({ item, i }, signal) => {
        const got = await one(item, files[i]!, signal);
        if (got.kind === "vanished") {
          vanished.push({ i, error: got.error });
          arrived[i]!.reject(got.error);
          return;
        }
        if (got.kind === "cached") fromCache++;
        // (not `bytes += await …`: that reads `bytes` before the await and loses concurrent updates)
        else bytes += got.bytes;
        arrived[i]!.resolve();
      },
      opts.signal,
    );
  } catch (e) {
    // the files not fetched will not come (settling a settled one does nothing)
    for (const a of arrived) a.reject(e);
    throw e;
  }
  vanished.sort((a, b) => a.i - b.i);
  const gone = new Set(vanished.map((v) => v.i));
  return {
    files: files.map((f, i) => (gone.has(i) ? undefined : f)),
    vanished: vanished.map((v) => v.error),
    bytesDownloaded: bytes,
    fromCache,
  };
}

/** Waits until every package file of a build is there (FetchedPackage.ready); rejects as the first that fails. */
export async function packageFilesReady(packages: readonly FetchedPackage[]): Promise<void> {
  await Promise.all(packages.map((p) => p.ready));
}
