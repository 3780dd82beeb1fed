import type { ProgressListener } from "../util/progress.js";
import type { LayerIndexCache } from "./index-cache.js";
import type { SharedLayers } from "./shared-layers.js";

/** Sanity limits applied to every layer; exceeding one is a HOSTILE_LAYER error. */
export interface RootfsLimits {
  /** Tar headers per layer (whiteouts included). */
  readonly maxEntriesPerLayer: number;
  /** Uncompressed tar bytes per layer (decompression bombs). */
  readonly maxLayerBytes: number;
  /** Length of an entry name or link target, in bytes. */
  readonly maxPathLength: number;
  /** Largest file `readFile` returns unless the call asks for more. */
  readonly maxReadFileBytes: number;
}

export const DEFAULT_LIMITS: RootfsLimits = {
  maxEntriesPerLayer: 1_000_000,
  maxLayerBytes: 32 * 1024 * 1024 * 1024,
  maxPathLength: 4096,
  maxReadFileBytes: 256 * 1024 * 1024,
};

/** Which regular files keep their content in memory while a layer is indexed. */
export interface CaptureOptions {
  /**
   * Glob patterns on paths relative to the root ("etc/**", "usr/lib/os-release").
   * `*` matches within one component, `**` across components, `?` one character.
   */
  readonly patterns: readonly string[];
  /** Files larger than this are not captured (they are re-read on demand). */
  readonly maxFileBytes: number;
  /** Total captured bytes per layer; beyond it files are re-read on demand. */
  readonly maxLayerBytes: number;
}

/**
 * Small files every reader needs: OS identity and configuration. Package backends add their
 * own (databases, repositories, keys) as `extraCapturePatterns`.
 */
export const DEFAULT_CAPTURE_PATTERNS: readonly string[] = ["etc/**", "usr/lib/os-release"];

export const DEFAULT_CAPTURE: CaptureOptions = {
  patterns: DEFAULT_CAPTURE_PATTERNS,
  maxFileBytes: 16 * 1024 * 1024,
  maxLayerBytes: 512 * 1024 * 1024,
};

/**
 * Derives a small result (a "summary") from a regular file while its layer is indexed: a file
 * whose path matches `patterns` (and whose base name passes `name`) and that is at most
 * `maxFileBytes` is buffered for the call only; the result is kept with the entry and the content
 * dropped at once (unless a capture pattern keeps it too). `LayeredFs.summary` hands it back, so
 * a caller needing a little of many files need not read their layers again. The result must be
 * small and must not hold on to the content (no Buffer slices of it).
 */
export interface FileSummarizer<T = unknown> {
  /**
   * Names the summarizer and the form of its results: the key its results are stored under and
   * part of the shared layer cache key. Change it whenever `summarize` changes what it returns.
   */
  readonly id: string;
  /** Glob patterns on paths relative to the root (capture syntax). */
  readonly patterns: readonly string[];
  /** An optional test of the base name ("libc.so.6"), after the patterns. */
  readonly name?: ((baseName: string) => boolean) | undefined;
  /** Larger files get no summary (callers read them instead). */
  readonly maxFileBytes: number;
  /** The summary of one file's content (a throw means: no summary for this file). */
  summarize(content: Buffer): T;
}

export interface LayeredFsOptions {
  readonly limits?: Partial<RootfsLimits>;
  /** Replaces the default capture settings (patterns default to DEFAULT_CAPTURE_PATTERNS). */
  readonly capture?: Partial<CaptureOptions>;
  /** Patterns captured in addition to `capture.patterns`. */
  readonly extraCapturePatterns?: readonly string[];
  /** Summaries made of matching files while layers are indexed (see FileSummarizer); ids must be unique. */
  readonly fileSummaries?: readonly FileSummarizer[];
  /**
   * A directory the caller owns; a private sub-directory (mode 0700) is created in it
   * and each layer blob read is kept there, so re-reads need no network. Nothing from
   * the image is written anywhere else. Removed by `close()`.
   */
  readonly scratchDir?: string;
  readonly signal?: AbortSignal;
  readonly progress?: ProgressListener;
  /**
   * Layer indexes shared with the other views of the run (a fleet): a layer another view has
   * read (same diffID, same capture settings and limits) is not read again, and its re-reads use
   * the run's verified copy (the source, when the index came from `indexCache`). Such a layer is not counted in `stats()` (its reader's view counts it).
   */
  readonly sharedLayers?: SharedLayers;
  /**
   * Layer indexes kept across runs: a layer indexed before (same diffID, capture settings and
   * limits, same ocipatch build) is not read; each layer this view reads is stored. Its
   * non-captured files are read from the image's blob when asked for. Such a layer is not counted
   * in `stats().layers`, but in `stats().layersFromIndexCache`.
   */
  readonly indexCache?: LayerIndexCache;
}
