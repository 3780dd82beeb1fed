import type { Digest } from "../util/digest.js";
import type { ProgressListener } from "../util/progress.js";
import type { ImageOrIndex } from "./image.js";

export interface WriteOptions {
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
}

export interface WriteResult {
  /** Digest of the top-level manifest written. */
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
  /** Where it was written, for messages (`registry/repo:tag@digest`, `oci:/dir:tag`). */
  readonly location: string;
  /** Blob statistics, for reports and benchmarks. */
  readonly stats: TransferStats;
}

export interface TransferStats {
  blobsUploaded: number;
  bytesUploaded: number;
  blobsSkipped: number;
  blobsMounted: number;
}

export function emptyStats(): TransferStats {
  return { blobsUploaded: 0, bytesUploaded: 0, blobsSkipped: 0, blobsMounted: 0 };
}

/** The write side of a medium: registry, OCI layout, docker archive. */
export interface ImageSink {
  readonly description: string;
  /** Write an image or an index (with its children) and point the sink's tag at it. */
  write(item: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult>;
}
