import type { Readable } from "node:stream";
import type { Digest } from "../util/digest.js";
import type { ConfigFile, Descriptor, ImageManifest, IndexManifest, Platform } from "./manifest.js";
import type { Compression } from "./media-types.js";

/** Where a blob already lives, so a registry writer can mount it instead of uploading. */
export interface BlobOrigin {
  readonly registry: string;
  readonly repository: string;
}

export interface OpenOptions {
  readonly signal?: AbortSignal | undefined;
}

/** One layer of an image. Nothing is downloaded until a stream is opened. */
export interface Layer {
  /** Digest of the blob as stored (compressed). */
  readonly digest: Digest;
  /** Digest of the uncompressed tar (config rootfs.diff_ids). */
  readonly diffId: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly compression: Compression;
  /** The descriptor as it appears (or will appear) in the manifest. */
  readonly descriptor: Descriptor;
  readonly origin?: BlobOrigin | undefined;
  /** The stored blob; the stream errors at its end if digest or size differ. */
  compressed(opts?: OpenOptions): Promise<Readable>;
  /** The uncompressed tar; the stream errors at its end if the diffID differs. */
  uncompressed(opts?: OpenOptions): Promise<Readable>;
}

/** A single-platform image (an image manifest, its config and layers). Lazy. */
export interface Image {
  readonly kind: "image";
  /** Human description of where it comes from, for messages. */
  readonly description: string;
  readonly mediaType: string;
  readonly digest: Digest;
  /** The manifest exactly as stored (its sha256 is `digest`). */
  readonly rawManifest: Buffer;
  readonly manifest: ImageManifest;
  readonly origin?: BlobOrigin | undefined;
  /** The config blob exactly as stored. Fetched on first use. */
  rawConfig(opts?: OpenOptions): Promise<Buffer>;
  configFile(opts?: OpenOptions): Promise<ConfigFile>;
  /** Layers bottom to top; needs the config (diffIDs) but no layer data. */
  layers(opts?: OpenOptions): Promise<Layer[]>;
}

/** A child of an index: the descriptor and a way to load it. */
export interface IndexChild {
  readonly descriptor: Descriptor;
  load(opts?: OpenOptions): Promise<Image | ImageIndex>;
}

/** A multi-platform image index (OCI index or Docker manifest list). Lazy. */
export interface ImageIndex {
  readonly kind: "index";
  readonly description: string;
  readonly mediaType: string;
  readonly digest: Digest;
  readonly rawManifest: Buffer;
  readonly manifest: IndexManifest;
  readonly origin?: BlobOrigin | undefined;
  children(): IndexChild[];
}

export type ImageOrIndex = Image | ImageIndex;

/** Descriptor of an image or index, as an index or OCI layout would list it. */
export function descriptorOf(
  item: ImageOrIndex,
  extra?: { platform?: Platform; annotations?: Record<string, string> },
): Descriptor {
  const d: Descriptor = { mediaType: item.mediaType, digest: item.digest, size: item.rawManifest.length };
  if (extra?.platform) d.platform = extra.platform;
  if (extra?.annotations && Object.keys(extra.annotations).length > 0) d.annotations = extra.annotations;
  return d;
}
