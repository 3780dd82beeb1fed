import type { Digest } from "../util/digest.js";

/** What a path can be. Hardlinks are reported as `file` with `hardlinkTarget` set. */
export const ENTRY_TYPES = ["file", "directory", "symlink", "char-device", "block-device", "fifo"] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

/** Metadata of one path in the merged image filesystem. */
export interface FsEntry {
  /** Absolute path of the entry inside the image ("/usr/bin/env"). */
  readonly path: string;
  readonly type: EntryType;
  /** Permission bits including setuid/setgid/sticky (no file-type bits). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string | undefined;
  readonly gname: string | undefined;
  /** Size in bytes of the content (regular files; the target's size for hardlinks). */
  readonly size: number;
  readonly mtime: Date | undefined;
  /** Symlink target exactly as stored (may be absolute or relative). */
  readonly linkTarget: string | undefined;
  /** For hardlinks: absolute path of the file this entry links to (in the same or a lower layer). */
  readonly hardlinkTarget: string | undefined;
  /** Device numbers of device nodes. */
  readonly devMajor: number | undefined;
  readonly devMinor: number | undefined;
  /** Index of the layer the entry comes from (0 = bottom layer). */
  readonly layerIndex: number;
  readonly layerDigest: Digest;
  /** Directory that exists only because a deeper path in a layer implies it (no tar header). */
  readonly implicit: boolean;
}

/** One layer that has been read, for statistics and the benchmark. */
export interface LayerReadStats {
  readonly index: number;
  readonly digest: Digest;
  /** Compressed size declared in the manifest. */
  readonly size: number;
  /** Compressed bytes actually read (from the source or the scratch copy). */
  readonly bytesRead: number;
  readonly uncompressedBytes: number;
  readonly entries: number;
  /** Bytes of file content kept in memory (capture patterns). */
  readonly capturedBytes: number;
  /** How many times the layer was streamed (1 = indexed once; more = on-demand content re-reads). */
  readonly reads: number;
  /** Re-reads served from the private scratch copy instead of the source. */
  readonly readsFromScratch: number;
}

export interface LayeredFsStats {
  readonly layerCount: number;
  /** Sum of the compressed sizes of all layers of the image. */
  readonly imageBytes: number;
  /** Compressed bytes read from the image's source (registry, layout, archive); scratch re-reads excluded. */
  readonly bytesDownloaded: number;
  readonly layers: readonly LayerReadStats[];
  /** Layers whose index came from the index cache (not read). */
  readonly layersFromIndexCache: number;
}
