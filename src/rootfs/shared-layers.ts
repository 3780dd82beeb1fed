import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Layer } from "../image/image.js";
import { abortable } from "../util/abortable.js";
import { hexOf } from "../util/digest.js";
import type { LayerIndex } from "./layer-index.js";

/** A layer's index, built once for the run, and the verified copy of its blob it was built from. */
export interface SharedLayer {
  readonly index: LayerIndex;
  /** The blob as read (digest and diffID verified), for re-reads; undefined when it was not kept. */
  readonly file: string | undefined;
  /** How `file` is compressed (a layer with the same diffID may come compressed differently). */
  readonly compression: Layer["compression"];
  /** Give the entry back (a view closes); unused entries may then be evicted. Idempotent. */
  release(): void;
}

/**
 * Builds the index of a layer, keeping its verified blob at `keepAs` (a new path) when it succeeds
 * (`kept`); an index from the index cache comes without a blob copy.
 */
type LoadLayer = (keepAs: string) => Promise<{ readonly index: LayerIndex; readonly kept: boolean }>;

export interface SharedLayersLimits {
  /** Estimated memory of the indexes kept while no view uses them (default 512 MiB). */
  readonly maxIndexBytes: number;
  /** Disk bytes of the blob copies kept while no view uses them (default 8 GiB). */
  readonly maxBlobBytes: number;
}

export const DEFAULT_SHARED_LAYERS_LIMITS: SharedLayersLimits = {
  maxIndexBytes: 512 * 1024 * 1024,
  maxBlobBytes: 8 * 1024 * 1024 * 1024,
};

export interface SharedLayersStats {
  /** Index builds (layer reads) per diffID. */
  readonly loads: ReadonlyMap<string, number>;
  /** Views that got an index built (or being built) for another view. */
  readonly hits: number;
  readonly evictions: number;
}

interface Entry {
  readonly key: string;
  readonly ready: Promise<Ready>;
  refs: number;
  lastUsed: number;
  /** Set once loaded. */
  loaded?: Ready;
}

interface Ready {
  readonly index: LayerIndex;
  readonly file: string | undefined;
  readonly compression: Layer["compression"];
  readonly indexBytes: number;
  readonly blobBytes: number;
}

/**
 * Layer indexes shared by the images of one run (a fleet): each distinct layer, by diffID (and
 * the capture settings it was indexed with), is read once and its index (entries, captured small
 * files) given to every view that needs it, with the verified blob copy for re-reads.
 *
 * - A view asking while the layer is being read waits for that read (its own signal may end the
 *   wait); a failed read is forgotten (no error is cached): each waiter then reads for itself.
 * - Memory: an index is held as long as a view uses it (the views would hold their own copy
 *   otherwise); unused ones are kept for later images of the run up to `maxIndexBytes` (an
 *   estimate: captured bytes + 2 bytes per path character + 256 per entry + 128 per summarized
 *   file) and `maxBlobBytes` of
 *   blob copies, least recently used evicted first (its blob copy removed).
 * - The blob copies live in `dir`, which the caller owns and removes at the end of the run.
 */
export class SharedLayers {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, number>();
  private readonly limits: SharedLayersLimits;
  private hits = 0;
  private evictions = 0;
  private clock = 0;
  private tmp = 0;

  constructor(
    private readonly dir: string,
    limits: Partial<SharedLayersLimits> = {},
  ) {
    this.limits = { ...DEFAULT_SHARED_LAYERS_LIMITS, ...limits };
  }

  /**
   * The index of `layer` as indexed with settings `variant`: the run's (waiting for a read in
   * progress), or `load`ed now. The caller must `release()` it when its view closes.
   */
  async acquire(layer: Layer, variant: string, load: LoadLayer, signal?: AbortSignal): Promise<SharedLayer> {
    const key = `${layer.diffId} ${variant}`;
    for (;;) {
      const existing = this.entries.get(key);
      if (existing) {
        existing.refs++;
        existing.lastUsed = ++this.clock;
        try {
          const r = await abortable(existing.ready, signal);
          this.hits++;
          return this.handle(existing, r);
        } catch (e) {
          existing.refs--;
          // someone else's read failed (or was cancelled): it is forgotten, read it ourselves
          if (!signal?.aborted && this.entries.get(key) !== existing) continue;
          throw e;
        }
      }
      // a new name per read: an evicted copy being removed never meets a newer one
      const file = join(this.dir, `${hexOf(layer.diffId)}.${this.tmp++}.blob`);
      this.loads.set(layer.diffId, (this.loads.get(layer.diffId) ?? 0) + 1);
      const entry: Entry = {
        key,
        refs: 1,
        lastUsed: ++this.clock,
        ready: load(file).then(
          ({ index, kept }): Ready => {
            const r = {
              index,
              file: kept ? file : undefined,
              compression: layer.compression,
              indexBytes: estimateBytes(index),
              blobBytes: kept ? layer.size : 0,
            };
            entry.loaded = r;
            return r;
          },
          (e: unknown) => {
            // forgotten before anyone waiting sees the failure
            if (this.entries.get(key) === entry) this.entries.delete(key);
            throw e;
          },
        ),
      };
      this.entries.set(key, entry);
      const r = await entry.ready;
      await this.evict();
      return this.handle(entry, r);
    }
  }

  stats(): SharedLayersStats {
    return { loads: new Map(this.loads), hits: this.hits, evictions: this.evictions };
  }

  private handle(entry: Entry, r: Ready): SharedLayer {
    let released = false;
    return {
      index: r.index,
      file: r.file,
      compression: r.compression,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        entry.lastUsed = ++this.clock;
        if (entry.refs === 0) void this.evict();
      },
    };
  }

  /** Drop unused entries, least recently used first, until the kept ones fit the limits. */
  private async evict(): Promise<void> {
    const loaded = [...this.entries.values()].filter((e) => e.loaded !== undefined);
    let indexBytes = 0;
    let blobBytes = 0;
    for (const e of loaded) {
      if (e.refs > 0) continue;
      indexBytes += e.loaded!.indexBytes;
      blobBytes += e.loaded!.blobBytes;
    }
    const idle = loaded.filter((e) => e.refs === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (indexBytes <= this.limits.maxIndexBytes && blobBytes <= this.limits.maxBlobBytes) break;
      this.entries.delete(e.key);
      this.evictions++;
      indexBytes -= e.loaded!.indexBytes;
      blobBytes -= e.loaded!.blobBytes;
      if (e.loaded!.file) await rm(e.loaded!.file, { force: true }).catch(() => undefined);
    }
  }
}

/** A rough size of an index in memory. */
function estimateBytes(idx: LayerIndex): number {
  let n = idx.capturedBytes + 128 * idx.summarizedFiles;
  for (const rel of idx.entries.keys()) n += 2 * rel.length + 256;
  for (const rel of idx.implicitDirs) n += 2 * rel.length + 128;
  return n;
}
