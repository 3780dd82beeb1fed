import { mkdtemp, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { OcipatchError } from "../errors.js";
import type { Image, Layer } from "../image/image.js";
import { readBlobFile } from "../image/local-blob.js";
import { uncompressLayer } from "../image/source.js";
import { hexOf } from "../util/digest.js";
import { BlobTap } from "./blob-tap.js";
import type { FsEntry, LayeredFsStats, LayerReadStats } from "./entry.js";
import { globMatcher } from "./glob.js";
import {
  indexLayer,
  type LayerIndex,
  type LayerSummarizer,
  readEntryContent,
  type StoredEntry,
} from "./layer-index.js";
import {
  DEFAULT_CAPTURE,
  DEFAULT_LIMITS,
  type FileSummarizer,
  type LayeredFsOptions,
  type RootfsLimits,
} from "./options.js";
import { ancestors, baseName, components, joinRel, normalizeInRoot, parentOf, toAbsolute } from "./path.js";
import type { SharedLayer, SharedLayers } from "./shared-layers.js";
import { readEntryContents } from "./tar-scan.js";

/** Linux's MAXSYMLINKS: symlinks followed while resolving one path. */
export const MAX_SYMLINK_HOPS = 40;

/**
 * The paths queries looked at while it was recorded: every exact path looked up in the layers
 * (each component of a resolution, symlink targets, hardlink targets) and every directory listed.
 * Layers with nothing at, above or in these paths cannot change the queries' answers.
 */
export interface QueryRecord {
  readonly lookups: Set<string>;
  /** Looked-up paths that were not there (an implied directory above would create them). */
  readonly missing: Set<string>;
  /** Looked-up paths only implied (no explicit record): the layer whose implied directory answered. */
  readonly implied: Map<string, number>;
  readonly listings: Set<string>;
}

/** A path as found in one layer (or implied by it). */
interface Found {
  readonly rel: string;
  readonly layer: number;
  readonly stored: StoredEntry | undefined; // undefined: implicit directory
}

export interface ResolveOptions {
  /** Follow a symlink in the final component (default true). */
  readonly followFinal?: boolean;
  /**
   * Fail with NOT_FOUND when a component is missing (default true). When false, the
   * missing tail is appended as is (used to place new files: parents are resolved
   * through symlinks, e.g. /lib -> usr/lib on merged-/usr images).
   */
  readonly mustExist?: boolean;
}

export interface Resolved {
  /** Absolute path with every symlink resolved inside the root. */
  readonly path: string;
  /** The entry at that path, undefined when it does not exist. */
  readonly entry: FsEntry | undefined;
}

export interface ReadFileOptions {
  /** Refuse files larger than this (default: limits.maxReadFileBytes). */
  readonly maxBytes?: number;
}

interface LayerState {
  index?: Promise<LayerIndex>;
  bytesRead: number;
  uncompressedBytes: number;
  entries: number;
  capturedBytes: number;
  reads: number;
  readsFromScratch: number;
  scratchFile?: string;
  /** Compression of `scratchFile` when it is the run's shared copy (read for another image). */
  scratchCompression?: Layer["compression"];
  /** The run's index of this layer (`sharedLayers`), given back on close. */
  shared?: SharedLayer;
  /** The index came from the index cache. */
  fromIndexCache?: boolean;
}

/**
 * A read-only view of an image's merged filesystem, computed from its layer tars
 * with OCI semantics (whiteouts, opaque directories, symlinks resolved inside the
 * root, hardlinks). Layers are streamed top-down, each at most once, and only as
 * far down as a query needs; small files under the capture patterns keep their
 * content, others are re-read on demand (from the private scratch copy when one is
 * kept). Nothing is extracted to disk.
 */
export class LayeredFs {
  private readonly states: LayerState[];
  private readonly limits: RootfsLimits;
  private readonly capture: (rel: string) => boolean;
  private readonly captureKey: readonly string[];
  private readonly captureMaxFileBytes: number;
  private readonly captureMaxLayerBytes: number;
  private readonly summarizers: readonly LayerSummarizer[];
  /** What the summarizers are, for the shared layer cache key. */
  private readonly summaryKey: ReadonlyArray<readonly [string, readonly string[], number]>;
  /** Everything a layer's index depends on besides its content: the key of shared and cached indexes. */
  private readonly indexVariant: string;
  /** Index cache writes in progress (awaited by close). */
  private readonly storing = new Set<Promise<void>>();
  private scratch: Promise<string> | undefined;
  private downloaded = 0;
  private closed = false;
  /** Blob streams of layer reads in progress (destroyed by close). */
  private readonly reading = new Set<Readable>();
  private readonly recorders = new Set<QueryRecord>();

  /** Open the view of a single-platform image (reads its config, no layer data). */
  static async open(image: Image, opts: LayeredFsOptions = {}): Promise<LayeredFs> {
    const layers = await image.layers(opts.signal ? { signal: opts.signal } : undefined);
    return new LayeredFs(layers, image.description, opts);
  }

  /** `layers` bottom to top, as in the manifest. */
  constructor(
    readonly layers: readonly Layer[],
    readonly description: string,
    private readonly opts: LayeredFsOptions = {},
  ) {
    this.states = layers.map(() => ({
      bytesRead: 0,
      uncompressedBytes: 0,
      entries: 0,
      capturedBytes: 0,
      reads: 0,
      readsFromScratch: 0,
    }));
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    const patterns = [
      ...(opts.capture?.patterns ?? DEFAULT_CAPTURE.patterns),
      ...(opts.extraCapturePatterns ?? []),
    ];
    this.capture = globMatcher(patterns);
    this.captureKey = patterns;
    this.captureMaxFileBytes = opts.capture?.maxFileBytes ?? DEFAULT_CAPTURE.maxFileBytes;
    this.captureMaxLayerBytes = opts.capture?.maxLayerBytes ?? DEFAULT_CAPTURE.maxLayerBytes;
    const summaries = opts.fileSummaries ?? [];
    const ids = new Set<string>();
    for (const f of summaries) {
      if (ids.has(f.id))
        throw new OcipatchError("INTERNAL", `two file summarizers are named ${JSON.stringify(f.id)}`);
      ids.add(f.id);
    }
    this.summarizers = summaries.map((f): LayerSummarizer => {
      const glob = globMatcher(f.patterns);
      const name = f.name;
      return {
        id: f.id,
        wants: name ? (rel) => name(baseName(rel)) && glob(rel) : glob,
        maxFileBytes: f.maxFileBytes,
        summarize: (content) => f.summarize(content),
      };
    });
    this.summaryKey = summaries.map((f) => [f.id, f.patterns, f.maxFileBytes] as const);
    this.indexVariant = JSON.stringify({
      capture: this.captureKey,
      summaries: this.summaryKey,
      maxFileBytes: this.captureMaxFileBytes,
      maxLayerBytes: this.captureMaxLayerBytes,
      limits: [this.limits.maxEntriesPerLayer, this.limits.maxLayerBytes, this.limits.maxPathLength],
    });
    if (opts.scratchDir !== undefined) {
      const dir = opts.scratchDir;
      this.scratch = mkdtemp(join(dir, "ocipatch-rootfs-")).catch((e: unknown) => {
        throw new OcipatchError("IO", `cannot create a scratch directory in ${dir}: ${String(e)}`, {
          cause: e,
        });
      });
      this.scratch.catch(() => undefined); // observed by the first use (or close())
    }
  }

  get layerCount(): number {
    return this.layers.length;
  }

  // ---------------------------------------------------------------- public queries

  /** Metadata of `path` without following a final symlink; undefined when it does not exist. */
  async lstat(path: string): Promise<FsEntry | undefined> {
    return (await this.resolveFound(path, { followFinal: false, mustExist: false })).entry;
  }

  /** Metadata of `path`, following symlinks; undefined when it (or a link target) does not exist. */
  async stat(path: string): Promise<FsEntry | undefined> {
    return (await this.resolveFound(path, { followFinal: true, mustExist: false })).entry;
  }

  /** Does `path` exist (following symlinks)? Symlink loops count as missing. */
  async exists(path: string): Promise<boolean> {
    try {
      return (await this.stat(path)) !== undefined;
    } catch (e) {
      if (e instanceof OcipatchError && e.code === "NOT_FOUND") return false;
      throw e;
    }
  }

  /** Absolute path with every component resolved inside the root; NOT_FOUND when missing. */
  async realpath(path: string): Promise<string> {
    return (await this.resolve(path, { followFinal: true, mustExist: true })).path;
  }

  /** Resolve `path` inside the root (see ResolveOptions). */
  async resolve(path: string, opts: ResolveOptions = {}): Promise<Resolved> {
    return this.resolveFound(path, opts);
  }

  /** Content of a regular file (symlinks followed, hardlinks resolved to their target). */
  async readFile(path: string, opts: ReadFileOptions = {}): Promise<Buffer> {
    const r = await this.resolveInternal(path, this.layers.length, { followFinal: true, mustExist: true });
    const f = r.found;
    if (!f?.stored || f.stored.type === "directory")
      throw new OcipatchError("NOT_FOUND", `${this.description}: ${path} is a directory, not a file`);
    if (f.stored.type !== "file")
      throw new OcipatchError("NOT_FOUND", `${this.description}: ${path} is a ${f.stored.type}, not a file`);
    return this.contentOf(f, opts.maxBytes ?? this.limits.maxReadFileBytes, path, 0);
  }

  /** Read a file as UTF-8 text, or undefined when it does not exist. */
  /**
   * The contents of many regular files, each layer read at most once (files kept
   * while indexing need no read at all): `onFile` gets each path that leads to a
   * regular file with its content, or `undefined` content when the file is larger
   * than `maxBytes`. Paths that do not lead to a regular file are left out. Meant
   * for callers that need many files at once (the native ldconfig reads every
   * library); `onFile` runs as contents arrive, so they need not all be held.
   */
  async readFiles(
    paths: readonly string[],
    onFile: (path: string, content: Buffer | undefined) => Promise<void> | void,
    opts: ReadFileOptions = {},
  ): Promise<void> {
    const maxBytes = opts.maxBytes ?? this.limits.maxReadFileBytes;
    const perLayer = new Map<number, Map<number, string[]>>();
    for (const path of paths) {
      const f = await this.regularFile(path);
      if (f === undefined) continue;
      const s = f.stored;
      if (s.size > maxBytes) {
        await onFile(path, undefined);
      } else if (s.content) {
        await onFile(path, s.content);
      } else {
        const byOrdinal = perLayer.get(f.layer) ?? new Map<number, string[]>();
        perLayer.set(f.layer, byOrdinal);
        byOrdinal.set(s.contentOrdinal, [...(byOrdinal.get(s.contentOrdinal) ?? []), path]);
      }
    }
    for (const [i, byOrdinal] of perLayer) {
      const wanted = new Map<number, (c: Buffer | undefined) => Promise<void>>();
      for (const [ordinal, ps] of byOrdinal) {
        wanted.set(ordinal, async (c) => {
          for (const p of ps) await onFile(p, c);
        });
      }
      await this.rereadMany(i, wanted, maxBytes);
    }
  }

  /**
   * The summary `summarizer` (one of the view's `fileSummaries`) made of the regular file `path`
   * leads to (symlinks followed, hardlinks resolved, whiteouts applied as by `readFiles`) when its
   * layer was indexed; undefined when none was made (no such file, not matched, too large, a
   * summarizer the view was not given): the caller then reads the file.
   */
  async summary<T>(path: string, summarizer: FileSummarizer<T>): Promise<T | undefined> {
    const f = await this.regularFile(path);
    return f?.stored.summaries?.get(summarizer.id) as T | undefined;
  }

  async readTextIfExists(path: string, opts: ReadFileOptions = {}): Promise<string | undefined> {
    const st = await this.stat(path).catch((e: unknown) => {
      if (e instanceof OcipatchError && e.code === "NOT_FOUND") return undefined;
      throw e;
    });
    if (st?.type !== "file") return undefined;
    return (await this.readFile(path, opts)).toString("utf8");
  }

  /** Names in a directory (symlinks followed), merged across layers, sorted. */
  async readdir(path: string): Promise<string[]> {
    const r = await this.resolveInternal(path, this.layers.length, { followFinal: true, mustExist: true });
    const f = r.found;
    if (f?.stored && f.stored.type !== "directory")
      throw new OcipatchError("NOT_FOUND", `${this.description}: ${path} is not a directory`);
    const rel = r.rel;
    for (const rec of this.recorders) rec.listings.add(rel);
    const names = new Set<string>();
    const hidden = new Set<string>();
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const idx = await this.layerIndex(i);
      const e = idx.entries.get(rel);
      if (e && e.type !== "directory") break;
      for (const name of idx.children.get(rel) ?? []) if (!hidden.has(name)) names.add(name);
      for (const name of idx.whiteoutChildren.get(rel) ?? []) hidden.add(name);
      if (idx.opaqueDirs.has(rel) || (rel !== "" && hidesBelow(idx, rel))) break;
    }
    return [...names].sort();
  }

  /** Entries of a directory (lstat of each child). */
  async readdirEntries(path: string): Promise<FsEntry[]> {
    const dir = await this.realpath(path);
    const names = await this.readdir(dir);
    const base = components(dir).join("/");
    const out: FsEntry[] = [];
    for (const n of names) {
      const f = await this.lookup(joinRel(base, n), this.layers.length);
      if (f) out.push(await this.toEntry(f, 0));
    }
    return out;
  }

  /** Record the paths the queries look at from now on, until `stopRecording`. */
  recordQueries(): QueryRecord {
    const r: QueryRecord = {
      lookups: new Set(),
      missing: new Set(),
      implied: new Map(),
      listings: new Set(),
    };
    this.recorders.add(r);
    return r;
  }

  stopRecording(r: QueryRecord): void {
    this.recorders.delete(r);
  }

  /**
   * Could layer `i`, put above the recorded view's layers (or taken away from them), change the
   * answer of a recorded query? True when it has an entry, a whiteout or an opaque marker at a
   * looked-up path or a parent of one, anything in a listed directory, an implied directory where
   * a lookup found nothing or that answered a lookup itself (an implied directory yields to an
   * explicit record below, and is the same plain directory as another implied one), or a root
   * entry. Indexes the layer if needed.
   */
  async layerAffects(i: number, r: QueryRecord): Promise<boolean> {
    const idx = await this.layerIndex(i);
    const above = new Set<string>();
    for (const p of [...r.lookups, ...r.listings]) for (const a of ancestors(p)) above.add(a);
    const inListing = (p: string) => p === "" || r.listings.has(parentOf(p));
    const hits = (p: string) => inListing(p) || r.lookups.has(p) || r.listings.has(p) || above.has(p);
    for (const set of [idx.entries.keys(), idx.whiteouts, idx.opaqueDirs])
      for (const p of set) if (hits(p)) return true;
    for (const p of idx.implicitDirs)
      if (inListing(p) || r.missing.has(p) || r.implied.get(p) === i) return true;
    return false;
  }

  /** Index every layer now (e.g. before building a patch layer that needs the full view). */
  async indexAllLayers(): Promise<void> {
    for (let i = this.layers.length - 1; i >= 0; i--) await this.layerIndex(i);
    // every hardlink to an earlier layer must find its target (HOSTILE_LAYER otherwise)
    for (let i = 0; i < this.layers.length; i++) {
      const idx = await this.layerIndex(i);
      for (const [rel, e] of idx.entries)
        if (e.hardlink && !e.hardlink.sameLayer) await this.hardlinkTarget({ rel, layer: i, stored: e }, 0);
    }
  }

  /** Which layers were read and how many bytes that took. */
  stats(): LayeredFsStats {
    const layers: LayerReadStats[] = [];
    this.states.forEach((s, i) => {
      if (s.reads === 0) return;
      const l = this.layers[i]!;
      layers.push({
        index: i,
        digest: l.digest,
        size: l.size,
        bytesRead: s.bytesRead,
        uncompressedBytes: s.uncompressedBytes,
        entries: s.entries,
        capturedBytes: s.capturedBytes,
        reads: s.reads,
        readsFromScratch: s.readsFromScratch,
      });
    });
    return {
      layerCount: this.layers.length,
      imageBytes: this.layers.reduce((n, l) => n + l.size, 0),
      bytesDownloaded: this.downloaded,
      layers,
      layersFromIndexCache: this.states.filter((s) => s.fromIndexCache).length,
    };
  }

  /** Warnings met while indexing (unsupported tar entry types...). */
  async warnings(): Promise<string[]> {
    const out: string[] = [];
    for (const s of this.states) {
      if (!s.index) continue;
      const idx = await s.index.catch(() => undefined); // its failure failed the read that needed it
      if (idx) out.push(...idx.warnings);
    }
    return out;
  }

  /**
   * Start reading every layer now, `concurrency` at a time from the top, instead of one after the
   * other as paths are resolved. For readers that need the whole view (the inventory: the OS
   * identity and the package manager live in the base layer, and every layer above it is read to
   * resolve them), so that layers download and decompress side by side. Each layer is still read
   * once; a failed read is reported to the caller that needs the layer.
   */
  prefetchLayers(concurrency = 2): void {
    let next = this.layers.length - 1;
    const start = (): void => {
      if (next < 0 || this.closed) return;
      const i = next--;
      // a failure is reported by the read that needs layer i (its index promise is dropped)
      this.layerIndex(i).then(start, start);
    };
    for (let k = 0; k < concurrency; k++) start();
  }

  private closedError(): OcipatchError {
    return new OcipatchError("INTERNAL", `${this.description}: the filesystem view is closed`);
  }

  /** Remove the private scratch directory. The view must not be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    // reads still running (prefetched layers nobody waited for) are stopped first: destroyed WITH an
    // error, or the piped streams after the blob would wait for an end that never comes
    for (const blob of this.reading) blob.destroy(this.closedError());
    await Promise.allSettled(this.states.map((st) => st.index));
    await Promise.all(this.storing);
    for (const st of this.states) {
      st.shared?.release();
      st.shared = undefined;
    }
    if (this.scratch) {
      const dir = await this.scratch.catch(() => undefined); // never created: nothing to remove
      this.scratch = undefined;
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  // ---------------------------------------------------------------- resolution

  /**
   * The record holding the content of the regular file `path` leads to (symlinks followed, a
   * cross-layer hardlink resolved to its target), or undefined when it leads to no regular file.
   */
  private async regularFile(path: string): Promise<(Found & { readonly stored: StoredEntry }) | undefined> {
    const r = await this.resolveInternal(path, this.layers.length, { followFinal: true, mustExist: false });
    let f = r.found;
    let s = f?.stored;
    if (f === undefined || s?.type !== "file") return undefined;
    for (let depth = 0; s.hardlink && !s.hardlink.sameLayer; depth++) {
      f = await this.hardlinkTarget(f, depth);
      s = f.stored;
      if (s === undefined) return undefined;
    }
    return { rel: f.rel, layer: f.layer, stored: s };
  }

  private async resolveFound(path: string, opts: ResolveOptions): Promise<Resolved> {
    let r: { rel: string; found: Found | undefined };
    try {
      r = await this.resolveInternal(path, this.layers.length, opts);
    } catch (e) {
      // stat-like calls: a path under a non-directory simply does not exist.
      if (opts.mustExist === false && e instanceof OcipatchError && e.details?.["reason"] === "ENOTDIR")
        return { path: toAbsolute(normalizeInRoot(path)), entry: undefined };
      throw e;
    }
    return { path: toAbsolute(r.rel), entry: r.found ? await this.toEntry(r.found, 0) : undefined };
  }

  /**
   * Walk `path` component by component in the view made of layers below `below`,
   * following symlinks inside the root (absolute targets restart at the root, ".."
   * stops at the root).
   */
  private async resolveInternal(
    path: string,
    below: number,
    opts: ResolveOptions,
  ): Promise<{ rel: string; found: Found | undefined }> {
    const followFinal = opts.followFinal ?? true;
    const mustExist = opts.mustExist ?? true;
    const todo = components(path).reverse();
    let resolved: string[] = [];
    let hops = 0;
    let missing = false;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === ".") continue;
      if (c === "..") {
        resolved.pop();
        continue;
      }
      const isLast = todo.length === 0;
      if (missing) {
        resolved.push(c);
        continue;
      }
      const cand = joinRel(resolved.join("/"), c);
      const f = await this.lookup(cand, below);
      if (!f) {
        if (mustExist)
          throw new OcipatchError(
            "NOT_FOUND",
            `${this.description}: ${path}: no such file or directory (${toAbsolute(cand)} does not exist)`,
          );
        missing = true;
        resolved.push(c);
        continue;
      }
      const type = f.stored?.type ?? "directory";
      if (type === "symlink" && (!isLast || followFinal)) {
        hops++;
        if (hops > MAX_SYMLINK_HOPS)
          throw new OcipatchError(
            "NOT_FOUND",
            `${this.description}: ${path}: too many levels of symbolic links (loop at ${toAbsolute(cand)})`,
            { details: { reason: "ELOOP" } },
          );
        const target = f.stored?.linkTarget ?? "";
        if (target.startsWith("/")) resolved = [];
        todo.push(...components(target).reverse());
        continue;
      }
      if (!isLast && type !== "directory") {
        throw new OcipatchError(
          "NOT_FOUND",
          `${this.description}: ${path}: ${toAbsolute(cand)} is not a directory`,
          { details: { reason: "ENOTDIR" } },
        );
      }
      resolved.push(c);
    }
    const rel = resolved.join("/");
    return { rel, found: missing ? undefined : await this.lookup(rel, below) };
  }

  /**
   * The top-most visible record of the exact path `rel` in layers below `below`.
   * An implicit directory yields to an explicit record further down (extraction
   * would have gone through it), otherwise it is reported as a plain directory.
   */
  private async lookup(rel: string, below: number): Promise<Found | undefined> {
    for (const rec of this.recorders) rec.lookups.add(rel);
    if (rel === "") return this.lookupRoot(below);
    let implicitAt: number | undefined;
    for (let i = below - 1; i >= 0; i--) {
      const idx = await this.layerIndex(i);
      const e = idx.entries.get(rel);
      if (e) return { rel, layer: i, stored: e };
      if (implicitAt === undefined && idx.implicitDirs.has(rel)) implicitAt = i;
      if (hidesBelow(idx, rel)) break;
    }
    if (implicitAt !== undefined) {
      for (const rec of this.recorders) rec.implied.set(rel, implicitAt);
      return { rel, layer: implicitAt, stored: undefined };
    }
    for (const rec of this.recorders) rec.missing.add(rel);
    return undefined;
  }

  /** The root always exists; its metadata comes from layers already read (no layer is loaded for it). */
  private async lookupRoot(below: number): Promise<Found> {
    for (let i = below - 1; i >= 0; i--) {
      const pending = this.states[i]!.index;
      if (!pending) break;
      const e = (await pending).entries.get("");
      if (e) return { rel: "", layer: i, stored: e };
    }
    return { rel: "", layer: Math.max(0, below - 1), stored: undefined };
  }

  private async toEntry(f: Found, depth: number): Promise<FsEntry> {
    const layer = this.layers[f.layer]!;
    const s = f.stored;
    if (!s) {
      return {
        path: toAbsolute(f.rel),
        type: "directory",
        mode: 0o755,
        uid: 0,
        gid: 0,
        uname: undefined,
        gname: undefined,
        size: 0,
        mtime: undefined,
        linkTarget: undefined,
        hardlinkTarget: undefined,
        devMajor: undefined,
        devMinor: undefined,
        layerIndex: f.layer,
        layerDigest: layer.digest,
        implicit: true,
      };
    }
    let size = s.size;
    let type = s.type;
    let linkTarget = s.linkTarget;
    if (s.hardlink && !s.hardlink.sameLayer) {
      const t = await this.toEntry(await this.hardlinkTarget(f, depth), depth + 1);
      size = t.size;
      type = t.type;
      linkTarget = t.linkTarget;
    }
    return {
      path: toAbsolute(f.rel),
      type,
      mode: s.mode,
      uid: s.uid,
      gid: s.gid,
      uname: s.uname,
      gname: s.gname,
      size,
      mtime: s.mtime,
      linkTarget,
      hardlinkTarget: s.hardlink ? toAbsolute(s.hardlink.target) : undefined,
      devMajor: s.devMajor,
      devMinor: s.devMinor,
      layerIndex: f.layer,
      layerDigest: layer.digest,
      implicit: false,
    };
  }

  /** The file a cross-layer hardlink points to, in the view below its layer. */
  private async hardlinkTarget(f: Found, depth: number): Promise<Found> {
    const target = f.stored!.hardlink!.target;
    if (depth > MAX_SYMLINK_HOPS)
      throw new OcipatchError(
        "NOT_FOUND",
        `${this.description}: hardlink chain too long at ${toAbsolute(f.rel)}`,
      );
    const r = await this.resolveInternal(target, f.layer, { followFinal: false, mustExist: false });
    if (!r.found?.stored || r.found.stored.type === "directory")
      // no extraction would succeed: a broken layer, never a silently missing file
      throw new OcipatchError(
        "HOSTILE_LAYER",
        `${this.description}: hardlink ${toAbsolute(f.rel)} points to ${toAbsolute(target)}, which does not exist in the layers below`,
      );
    return r.found;
  }

  private async contentOf(f: Found, maxBytes: number, path: string, depth: number): Promise<Buffer> {
    const s = f.stored!;
    if (s.hardlink && !s.hardlink.sameLayer) {
      return this.contentOf(await this.hardlinkTarget(f, depth), maxBytes, path, depth + 1);
    }
    if (s.size > maxBytes)
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${this.description}: ${path} is ${s.size} bytes, more than the ${maxBytes} bytes allowed`,
      );
    if (s.content) return s.content;
    return this.reread(f.layer, s.contentOrdinal, maxBytes);
  }

  // ---------------------------------------------------------------- layer reading

  private what(i: number): string {
    return `layer ${this.layers[i]!.digest} (${i + 1}/${this.layers.length}) of ${this.description}`;
  }

  private layerIndex(i: number): Promise<LayerIndex> {
    const st = this.states[i]!;
    if (!st.index) {
      const shared = this.opts.sharedLayers;
      st.index = shared ? this.sharedIndex(i, shared) : this.cachedOrRead(i).then((r) => r.index);
      st.index.catch(() => {
        st.index = undefined;
      });
    }
    return st.index;
  }

  /**
   * Layer i's index from the index cache, else read now (keeping the blob at `keepAs`, default: in
   * the private scratch directory) and stored there (close() waits for the write).
   */
  private async cachedOrRead(i: number, keepAs?: string): Promise<{ index: LayerIndex; kept: boolean }> {
    const cache = this.opts.indexCache;
    const st = this.states[i]!;
    const diffId = this.layers[i]!.diffId;
    const hit = await cache?.get(diffId, this.indexVariant, i, this.what(i));
    if (this.closed) throw this.closedError();
    if (hit) {
      st.fromIndexCache = true;
      st.entries = hit.entryCount;
      st.uncompressedBytes = hit.uncompressedBytes;
      st.capturedBytes = hit.capturedBytes;
      return { index: hit, kept: false };
    }
    const index = await this.loadLayer(i, keepAs);
    if (cache) {
      // stored after the callers waiting for the index had their turn (serializing takes ~10 ms)
      const write = new Promise<void>((r) => setImmediate(r))
        .then(() => cache.put(diffId, this.indexVariant, index))
        .catch(() => {}); // not stored: a later run reads the layer
      this.storing.add(write);
      void write.then(() => this.storing.delete(write));
    }
    return { index, kept: true };
  }

  /** Layer i's index from the run's shared ones (read now if no other view has). */
  private async sharedIndex(i: number, shared: SharedLayers): Promise<LayerIndex> {
    const st = this.states[i]!;
    const h = await shared.acquire(
      this.layers[i]!,
      this.indexVariant,
      (file) => this.cachedOrRead(i, file),
      this.opts.signal,
    );
    if (this.closed) {
      h.release();
      throw this.closedError();
    }
    st.shared?.release();
    st.shared = h;
    st.scratchFile = h.file;
    st.scratchCompression = h.compression;
    return h.index;
  }

  private async scratchFileFor(i: number): Promise<string | undefined> {
    if (!this.scratch) return undefined;
    const dir = await this.scratch;
    return join(dir, `${hexOf(this.layers[i]!.digest)}.${i}.blob`);
  }

  /** Open the layer's compressed blob from its source, counting (and optionally keeping) the bytes. */
  private async openFromSource(
    i: number,
    keepAs: string | undefined,
  ): Promise<{ tar: Readable; tap: BlobTap; blob: Readable }> {
    if (this.closed) throw this.closedError();
    const layer = this.layers[i]!;
    const p = this.opts.progress;
    p?.blobStart?.(layer.descriptor, "download");
    const blob = await layer.compressed(this.opts.signal ? { signal: this.opts.signal } : undefined);
    // every source honours the deadline here, also one that ignores the signal (a local copy)
    if (this.opts.signal) addAbortSignal(this.opts.signal, blob);
    const tap = new BlobTap(keepAs, (n) => p?.blobProgress?.(layer.descriptor, n));
    blob.on("error", (e) => tap.destroy(e));
    const tar = uncompressLayer(blob.pipe(tap), layer.compression, layer.diffId, `layer ${layer.digest}`);
    tap.on("error", (e) => tar.destroy(e));
    return { tar, tap, blob };
  }

  /** Read and index layer i, keeping the blob at `keepAs` (default: in the private scratch directory). */
  private async loadLayer(i: number, keepAs?: string): Promise<LayerIndex> {
    const st = this.states[i]!;
    const layer = this.layers[i]!;
    const file = keepAs ?? (await this.scratchFileFor(i));
    const tmp = file === undefined ? undefined : `${file}.part`;
    const { tar, tap, blob } = await this.openFromSource(i, tmp);
    this.reading.add(blob);
    // closed while the blob was being requested: stop it like the reads close() found
    if (this.closed) blob.destroy(this.closedError());
    try {
      const idx = await indexLayer(tar, i, this.what(i), {
        maxEntries: this.limits.maxEntriesPerLayer,
        maxBytes: this.limits.maxLayerBytes,
        maxPathLength: this.limits.maxPathLength,
        capture: this.capture,
        captureMaxFileBytes: this.captureMaxFileBytes,
        captureMaxLayerBytes: this.captureMaxLayerBytes,
        summarizers: this.summarizers,
      });
      st.reads++;
      st.bytesRead += tap.bytes;
      this.downloaded += tap.bytes;
      st.entries = idx.entryCount;
      st.uncompressedBytes = idx.uncompressedBytes;
      st.capturedBytes = idx.capturedBytes;
      if (tmp !== undefined && file !== undefined) {
        await rename(tmp, file);
        st.scratchFile = file;
      }
      this.opts.progress?.blobDone?.(layer.descriptor, "download");
      return idx;
    } catch (e) {
      st.bytesRead += tap.bytes;
      this.downloaded += tap.bytes;
      blob.destroy();
      tap.destroy();
      if (tmp !== undefined) {
        await tap.discardCopy();
        await unlink(tmp).catch(() => undefined);
      }
      throw e;
    } finally {
      this.reading.delete(blob);
    }
  }

  /** Contents of several entries of layer i in one pass (scratch copy when kept). */
  private rereadMany(
    i: number,
    wanted: ReadonlyMap<number, (c: Buffer | undefined) => Promise<void>>,
    maxBytes: number,
  ): Promise<void> {
    return this.readLayerAgain(i, maxBytes, (tar, limits, fromScratch) =>
      readEntryContents(tar, wanted, this.what(i), limits, fromScratch),
    );
  }

  /** Content of entry `ordinal` of layer i, read again (scratch copy when kept). */
  private reread(i: number, ordinal: number, maxBytes: number): Promise<Buffer> {
    return this.readLayerAgain(i, maxBytes, (tar, limits, fromScratch) =>
      readEntryContent(tar, ordinal, this.what(i), limits, fromScratch),
    );
  }

  /**
   * Read layer i again with `read`: from our own verified scratch copy when kept (in a
   * private directory: `read` may stop as soon as it has what it wants), else from the
   * source (read to the end, so digest and diffID are verified again). Both honour the
   * run's signal and are counted.
   */
  private async readLayerAgain<T>(
    i: number,
    maxBytes: number,
    read: (tar: Readable, limits: EntryReadLimits, fromScratch: boolean) => Promise<T>,
  ): Promise<T> {
    const st = this.states[i]!;
    const layer = this.layers[i]!;
    const limits: EntryReadLimits = {
      maxEntries: this.limits.maxEntriesPerLayer,
      maxBytes: this.limits.maxLayerBytes,
      maxFileBytes: maxBytes,
    };
    st.reads++;
    if (st.scratchFile) {
      st.readsFromScratch++;
      const raw = readBlobFile(st.scratchFile, this.opts.signal);
      const tap = new BlobTap(undefined);
      raw.on("error", (e) => tap.destroy(e));
      const compression = st.scratchCompression ?? layer.compression;
      const tar = uncompressLayer(raw.pipe(tap), compression, layer.diffId, `layer ${layer.digest}`);
      try {
        return await read(tar, limits, true);
      } finally {
        st.bytesRead += tap.bytes;
        raw.destroy();
      }
    }
    const { tar, tap, blob } = await this.openFromSource(i, undefined);
    try {
      return await read(tar, limits, false);
    } catch (e) {
      blob.destroy();
      throw e;
    } finally {
      st.bytesRead += tap.bytes;
      this.downloaded += tap.bytes;
    }
  }
}

/** The bounds of reading entries contents again: the layer's, and one file's. */
interface EntryReadLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxFileBytes: number;
}

/** Does layer `idx` hide everything at `rel` in the layers below it? */
function hidesBelow(idx: LayerIndex, rel: string): boolean {
  if (idx.whiteouts.has(rel) || (rel !== "" && idx.opaqueDirs.has(""))) return true;
  for (const a of ancestors(rel)) {
    if (idx.whiteouts.has(a) || idx.opaqueDirs.has(a)) return true;
    const e = idx.entries.get(a);
    if (e && e.type !== "directory") return true;
  }
  return false;
}
