import type { Readable } from "node:stream";
import { OcipatchError } from "../errors.js";
import type { EntryType } from "./entry.js";
import { baseName, joinRel, normalizeTarName, parentOf } from "./path.js";
import { readEntry, scanTar, skipEntry, type TarEntry, type TarHeader } from "./tar-scan.js";

/** A path as recorded by one layer. */
export interface StoredEntry {
  readonly type: EntryType;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string | undefined;
  readonly gname: string | undefined;
  readonly size: number;
  readonly mtime: Date | undefined;
  readonly linkTarget: string | undefined;
  readonly devMajor: number | undefined;
  readonly devMinor: number | undefined;
  /** Hardlink: target path (relative form) and whether it was found earlier in the same layer. */
  readonly hardlink: { readonly target: string; readonly sameLayer: boolean } | undefined;
  /** Ordinal of the tar header holding the content (the target's for same-layer hardlinks). */
  readonly contentOrdinal: number;
  /** Captured content (regular files matching the capture patterns). */
  readonly content: Buffer | undefined;
  /** Summaries of the content by summarizer id (regular files matching a summarizer). */
  readonly summaries: ReadonlyMap<string, unknown> | undefined;
}

/**
 * A LayerIndex without its place in a view (position, description): what the index cache stores.
 * Warnings are kept without the `what: ` they start with.
 */
export interface LayerIndexRecord {
  readonly entries: Map<string, StoredEntry>;
  readonly implicitDirs: Set<string>;
  readonly whiteouts: Set<string>;
  readonly opaqueDirs: Set<string>;
  readonly children: Map<string, Set<string>>;
  readonly whiteoutChildren: Map<string, Set<string>>;
  readonly entryCount: number;
  readonly uncompressedBytes: number;
  readonly capturedBytes: number;
  readonly summarizedFiles: number;
  readonly warnings: string[];
}

/** A FileSummarizer as the indexer applies it. */
export interface LayerSummarizer {
  readonly id: string;
  /** Does the summarizer want this path (relative form)? */
  readonly wants: (rel: string) => boolean;
  readonly maxFileBytes: number;
  readonly summarize: (content: Buffer) => unknown;
}

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";

/** Everything one layer says about the filesystem. */
export class LayerIndex {
  /** Explicit entries by relative path (the last header for a path wins, as on extraction). */
  readonly entries = new Map<string, StoredEntry>();
  /** Directories implied by deeper paths, without a header of their own. */
  readonly implicitDirs = new Set<string>();
  /** Paths this layer deletes from the layers below (`.wh.NAME`). */
  readonly whiteouts = new Set<string>();
  /** Directories whose lower-layer content this layer hides (`.wh..wh..opq`). */
  readonly opaqueDirs = new Set<string>();
  /** Names present in each directory of this layer (entries and implicit directories). */
  readonly children = new Map<string, Set<string>>();
  /** Names each directory's whiteouts hide. */
  readonly whiteoutChildren = new Map<string, Set<string>>();
  entryCount = 0;
  uncompressedBytes = 0;
  capturedBytes = 0;
  /** Files with at least one summary. */
  summarizedFiles = 0;
  readonly warnings: string[] = [];

  constructor(
    readonly index: number,
    readonly what: string,
  ) {}

  /** This index as a record, for the index cache (the warnings without this view's `what`). */
  toRecord(): LayerIndexRecord {
    const prefix = `${this.what}: `;
    return {
      entries: this.entries,
      implicitDirs: this.implicitDirs,
      whiteouts: this.whiteouts,
      opaqueDirs: this.opaqueDirs,
      children: this.children,
      whiteoutChildren: this.whiteoutChildren,
      entryCount: this.entryCount,
      uncompressedBytes: this.uncompressedBytes,
      capturedBytes: this.capturedBytes,
      summarizedFiles: this.summarizedFiles,
      warnings: this.warnings.map((w) => (w.startsWith(prefix) ? w.slice(prefix.length) : w)),
    };
  }

  /** The index of a record (from the index cache) as layer `index` of a view, described as `what`. */
  static fromRecord(r: LayerIndexRecord, index: number, what: string): LayerIndex {
    const idx = new LayerIndex(index, what);
    for (const [k, v] of r.entries) idx.entries.set(k, v);
    for (const k of r.implicitDirs) idx.implicitDirs.add(k);
    for (const k of r.whiteouts) idx.whiteouts.add(k);
    for (const k of r.opaqueDirs) idx.opaqueDirs.add(k);
    for (const [k, v] of r.children) idx.children.set(k, v);
    for (const [k, v] of r.whiteoutChildren) idx.whiteoutChildren.set(k, v);
    idx.entryCount = r.entryCount;
    idx.uncompressedBytes = r.uncompressedBytes;
    idx.capturedBytes = r.capturedBytes;
    idx.summarizedFiles = r.summarizedFiles;
    for (const w of r.warnings) idx.warnings.push(`${what}: ${w}`);
    return idx;
  }

  private addChild(dir: string, name: string): void {
    let s = this.children.get(dir);
    if (!s) {
      s = new Set();
      this.children.set(dir, s);
    }
    s.add(name);
  }

  /** Record that `rel` exists in this layer; its ancestors become (implicit) directories. */
  notePath(rel: string): void {
    let p = rel;
    while (p !== "") {
      const parent = parentOf(p);
      const known = this.children.get(parent)?.has(baseName(p)) ?? false;
      this.addChild(parent, baseName(p));
      if (parent !== "" && !this.entries.has(parent)) this.implicitDirs.add(parent);
      if (known) break;
      p = parent;
    }
  }

  addWhiteout(dir: string, name: string): void {
    this.whiteouts.add(joinRel(dir, name));
    let s = this.whiteoutChildren.get(dir);
    if (!s) {
      s = new Set();
      this.whiteoutChildren.set(dir, s);
    }
    s.add(name);
    if (dir !== "") this.notePath(dir);
  }
}

interface IndexLayerOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxPathLength: number;
  readonly capture: (rel: string) => boolean;
  readonly captureMaxFileBytes: number;
  readonly captureMaxLayerBytes: number;
  readonly summarizers: readonly LayerSummarizer[];
}

function hostile(what: string, name: string, why: string): OcipatchError {
  const shown = JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
  return new OcipatchError("HOSTILE_LAYER", `${what}: entry ${shown}: ${why}`, {
    details: { entry: name.slice(0, 4096) },
  });
}

function entryType(t: TarHeader["type"] | null | undefined): EntryType | "link" | undefined {
  switch (t) {
    case "file":
    case "contiguous-file":
    case null:
    case undefined:
      return "file";
    case "directory":
      return "directory";
    case "symlink":
      return "symlink";
    case "link":
      return "link";
    case "character-device":
      return "char-device";
    case "block-device":
      return "block-device";
    case "fifo":
      return "fifo";
    default:
      return undefined;
  }
}

/**
 * Read a layer's uncompressed tar into a LayerIndex: every path with its metadata,
 * whiteouts and opaque markers, and the content of captured files. Hostile entries
 * (absolute names, `..`, device nodes outside /dev, hardlinks leaving the root,
 * over-long names, too many entries or bytes) are HOSTILE_LAYER errors.
 */
export async function indexLayer(
  source: Readable,
  index: number,
  what: string,
  opts: IndexLayerOptions,
): Promise<LayerIndex> {
  const idx = new LayerIndex(index, what);
  const result = await scanTar(
    source,
    what,
    { maxEntries: opts.maxEntries, maxBytes: opts.maxBytes },
    async (entry, ordinal) => {
      await addEntry(idx, entry, ordinal, what, opts);
      return false;
    },
  );
  idx.entryCount = result.entries;
  idx.uncompressedBytes = result.bytes;
  return idx;
}

async function addEntry(
  idx: LayerIndex,
  entry: TarEntry,
  ordinal: number,
  what: string,
  opts: IndexLayerOptions,
): Promise<void> {
  const h = entry.header;
  const name = h.name;
  if (Buffer.byteLength(name) > opts.maxPathLength) {
    await skipEntry(entry);
    throw hostile(what, name, `name longer than ${opts.maxPathLength} bytes`);
  }
  const norm = normalizeTarName(name);
  if ("problem" in norm) {
    await skipEntry(entry);
    const why =
      norm.problem === "absolute"
        ? "absolute path (layer entries must be relative to the root)"
        : norm.problem === "parent-reference"
          ? 'path contains ".." (path traversal)'
          : "empty name";
    throw hostile(what, name, why);
  }
  const rel = norm.rel;
  const type = entryType(h.type);
  if (type === undefined) {
    idx.warnings.push(`${what}: entry ${JSON.stringify(name)} of unsupported type ${h.type} ignored`);
    await skipEntry(entry);
    return;
  }

  // Whiteouts and opaque markers.
  const base = baseName(rel);
  if (base.startsWith(WHITEOUT_PREFIX)) {
    await skipEntry(entry);
    const dir = parentOf(rel);
    if (base === OPAQUE_MARKER) {
      idx.opaqueDirs.add(dir);
      if (dir !== "") idx.notePath(dir);
      return;
    }
    if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`)) return; // aufs metadata (.wh..wh.plnk ...)
    const hidden = base.slice(WHITEOUT_PREFIX.length);
    if (hidden === "" || hidden === "." || hidden === "..")
      throw hostile(what, name, "whiteout of an invalid name");
    idx.addWhiteout(dir, hidden);
    return;
  }

  if (rel === "" && type !== "directory") {
    await skipEntry(entry);
    throw hostile(what, name, "the root is not a directory");
  }
  if ((type === "char-device" || type === "block-device") && !(rel === "dev" || rel.startsWith("dev/"))) {
    await skipEntry(entry);
    throw hostile(what, name, `${type} outside /dev`);
  }
  const linkname = h.linkname ?? undefined;
  if (linkname !== undefined && Buffer.byteLength(linkname) > opts.maxPathLength) {
    await skipEntry(entry);
    throw hostile(what, name, `link target longer than ${opts.maxPathLength} bytes`);
  }

  const meta = {
    mode: (h.mode ?? 0) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    uname: h.uname || undefined,
    gname: h.gname || undefined,
    mtime: h.mtime,
    devMajor: type === "char-device" || type === "block-device" ? h.devmajor : undefined,
    devMinor: type === "char-device" || type === "block-device" ? h.devminor : undefined,
  };

  if (type === "link") {
    await skipEntry(entry);
    if (linkname === undefined || linkname === "") throw hostile(what, name, "hardlink without a target");
    const t = normalizeTarName(linkname);
    if ("problem" in t || t.rel === "")
      throw hostile(what, name, `hardlink target ${JSON.stringify(linkname)} is outside the layer root`);
    const target = idx.entries.get(t.rel);
    if (target) {
      if (target.type === "directory") throw hostile(what, name, "hardlink to a directory");
      idx.entries.set(rel, {
        ...target,
        // a link to a link: to what that one leads to (into a lower layer, if it does)
        hardlink:
          target.hardlink && !target.hardlink.sameLayer
            ? target.hardlink
            : { target: target.hardlink?.sameLayer ? target.hardlink.target : t.rel, sameLayer: true },
      });
    } else {
      idx.entries.set(rel, {
        type: "file",
        ...meta,
        size: 0,
        linkTarget: undefined,
        hardlink: { target: t.rel, sameLayer: false },
        contentOrdinal: 0,
        content: undefined,
        summaries: undefined,
      });
    }
    idx.notePath(rel);
    return;
  }

  const size = type === "file" ? (h.size ?? 0) : 0;
  let content: Buffer | undefined;
  let summaries: Map<string, unknown> | undefined;
  const captured =
    type === "file" &&
    size <= opts.captureMaxFileBytes &&
    idx.capturedBytes + size <= opts.captureMaxLayerBytes &&
    opts.capture(rel);
  const summarizers =
    type === "file" ? opts.summarizers.filter((s) => size <= s.maxFileBytes && s.wants(rel)) : [];
  if (captured || summarizers.length > 0) {
    // a summarized file's content lives only for this call unless it is captured too
    const data = await readEntry(entry, size);
    if (captured) {
      content = data;
      idx.capturedBytes += data.length;
    }
    summaries = summarize(summarizers, data);
    if (summaries) idx.summarizedFiles++;
  } else {
    await skipEntry(entry);
  }
  idx.entries.set(rel, {
    type,
    ...meta,
    size,
    linkTarget: type === "symlink" ? (linkname ?? "") : undefined,
    hardlink: undefined,
    contentOrdinal: ordinal,
    content,
    summaries,
  });
  if (type === "directory") idx.implicitDirs.delete(rel);
  if (rel !== "") idx.notePath(rel);
}

/** The summaries of one file's content; a summarizer that throws leaves no summary (callers read the file). */
function summarize(summarizers: readonly LayerSummarizer[], data: Buffer): Map<string, unknown> | undefined {
  let out: Map<string, unknown> | undefined;
  for (const s of summarizers) {
    let v: unknown;
    try {
      v = s.summarize(data);
    } catch {
      continue;
    }
    if (v === undefined) continue;
    out ??= new Map();
    out.set(s.id, v);
  }
  return out;
}

/**
 * Re-read the content of the entry with tar header `ordinal` (from a stream of the
 * same layer). Stops reading as soon as it has it when `stopEarly` is set (trusted
 * private copy); otherwise drains the rest so the stream's verification runs.
 */
export async function readEntryContent(
  source: Readable,
  ordinal: number,
  what: string,
  limits: { maxEntries: number; maxBytes: number; maxFileBytes: number },
  stopEarly: boolean,
): Promise<Buffer> {
  let content: Buffer | undefined;
  await scanTar(source, what, limits, async (entry, n) => {
    if (n !== ordinal) {
      await skipEntry(entry);
      return false;
    }
    const size = entry.header.size ?? 0;
    if (size > limits.maxFileBytes) {
      await skipEntry(entry);
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${what}: ${entry.header.name} is ${size} bytes, more than the ${limits.maxFileBytes} bytes allowed`,
      );
    }
    content = await readEntry(entry, size);
    return stopEarly;
  });
  if (content === undefined)
    throw new OcipatchError("INTERNAL", `${what}: entry #${ordinal} vanished on re-read`);
  return content;
}
