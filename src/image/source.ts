import type { Readable } from "node:stream";
import { OcipatchError } from "../errors.js";
import { decompressor } from "../util/compression.js";
import { type Digest, DigestStream, digestLike } from "../util/digest.js";
import { BLOB_PIECE_BYTES, coalesce, handOff, readAll } from "../util/streams.js";
import type { BlobOrigin, Image, ImageIndex, ImageOrIndex, IndexChild, Layer, OpenOptions } from "./image.js";
import {
  type ConfigFile,
  type Descriptor,
  detectManifestMediaType,
  type ImageManifest,
  parseConfigFile,
  parseImageManifest,
  parseIndexManifest,
} from "./manifest.js";
import { isIndexMediaType, isLayerMediaType, layerCompression } from "./media-types.js";

/** A manifest as fetched: exact bytes, media type and digest. */
export interface RawManifest {
  readonly bytes: Buffer;
  readonly mediaType: string | undefined;
  readonly digest: Digest;
}

/**
 * The read side of a medium (registry repository, OCI layout, docker archive):
 * everything an image needs to load itself lazily. Implementations do not verify
 * digests; the image model does.
 */
export interface ContentSource {
  readonly description: string;
  readonly origin?: BlobOrigin | undefined;
  /** A manifest by digest (e.g. a child of an index). */
  fetchManifest(desc: Descriptor, opts?: OpenOptions): Promise<RawManifest>;
  /** A blob's bytes as a stream. */
  openBlob(desc: Descriptor, opts?: OpenOptions): Promise<Readable>;
  /** Small blobs (configs) are read whole; a source may serve them from memory. */
  readBlob?(desc: Descriptor, opts?: OpenOptions): Promise<Buffer>;
}

const MAX_CONFIG_SIZE = 64 * 1024 * 1024;

/** Open a blob and verify it against its descriptor while it streams. */
export async function openVerified(
  source: ContentSource,
  desc: Descriptor,
  what: string,
  opts?: OpenOptions,
): Promise<Readable> {
  const raw = await source.openBlob(desc, opts);
  const check = new DigestStream({
    digest: desc.digest,
    size: desc.size,
    what: `${what} ${desc.digest} from ${source.description}`,
  });
  // a socket's or a file's small chunks joined: each stage after (the digest, a copy kept, the
  // decompressor in the thread pool) then makes one trip per MiB instead of one per 64 KiB, and
  // the decompressor no longer waits for this thread between pieces (docs/BENCHMARKS.md, thirteenth
  // session)
  const pieces = coalesce(BLOB_PIECE_BYTES, 1);
  raw.on("error", (e) => check.destroy(e));
  // a reader that stops before the end (or a blob found larger than its descriptor) stops the
  // source too: a socket is not left paused, holding its connection
  check.on("close", () => {
    if (raw.readableEnded) return;
    raw.destroy();
    pieces.destroy();
  });
  return raw.pipe(pieces).pipe(check);
}

export async function readVerified(
  source: ContentSource,
  desc: Descriptor,
  what: string,
  opts?: OpenOptions,
): Promise<Buffer> {
  if (desc.size > MAX_CONFIG_SIZE)
    throw new OcipatchError("INVALID_FORMAT", `${what} ${desc.digest} is too large (${desc.size} bytes)`);
  if (source.readBlob) {
    const b = await source.readBlob(desc, opts);
    verifyBytes(b, desc, `${what} from ${source.description}`);
    return b;
  }
  return readAll(await openVerified(source, desc, what, opts));
}

export function verifyBytes(b: Buffer, desc: Pick<Descriptor, "digest" | "size">, what: string): void {
  if (b.length !== desc.size) {
    throw new OcipatchError("DIGEST_MISMATCH", `${what}: got ${b.length} bytes, expected ${desc.size}`);
  }
  // with the digest's own algorithm (sha256, sha512); another algorithm is refused
  const d = digestLike(b, desc.digest);
  if (d !== desc.digest) {
    throw new OcipatchError("DIGEST_MISMATCH", `${what}: digest ${d} does not match expected ${desc.digest}`);
  }
}

/** A layer whose blob lives in a content source. */
export class SourceLayer implements Layer {
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly compression;
  readonly origin: BlobOrigin | undefined;

  constructor(
    private readonly source: ContentSource,
    readonly descriptor: Descriptor,
    readonly diffId: Digest,
  ) {
    this.digest = descriptor.digest;
    this.size = descriptor.size;
    this.mediaType = descriptor.mediaType;
    // Blobs that are not filesystem layers (e.g. the in-toto statements of BuildKit
    // attestation manifests) are stored as-is: serve them uncompressed.
    this.compression = isLayerMediaType(descriptor.mediaType)
      ? layerCompression(descriptor.mediaType)
      : "none";
    this.origin = source.origin;
  }

  compressed(opts?: OpenOptions): Promise<Readable> {
    return openVerified(this.source, this.descriptor, "layer", opts);
  }

  async uncompressed(opts?: OpenOptions): Promise<Readable> {
    return uncompressLayer(
      await this.compressed(opts),
      this.compression,
      this.diffId,
      `layer ${this.digest}`,
    );
  }
}

/** Decompress a layer stream and verify its diffID at the end. */
export function uncompressLayer(
  blob: Readable,
  compression: Layer["compression"],
  diffId: Digest,
  what: string,
): Readable {
  const dec = decompressor(compression);
  const check = new DigestStream({ digest: diffId, what: `${what} (uncompressed)` });
  if (!dec) {
    blob.on("error", (e) => check.destroy(e));
    return blob.pipe(check);
  }
  blob.on("error", (e) => dec.destroy(e));
  dec.on("error", (e) =>
    check.destroy(
      // a cancellation (the read aborted by a signal) is passed on as it is, not as corrupt data
      e instanceof OcipatchError || e.name === "AbortError" || e.name === "TimeoutError"
        ? e
        : new OcipatchError("INVALID_FORMAT", `${what}: cannot decompress (${compression}): ${e.message}`, {
            cause: e,
          }),
    ),
  );
  // the decompressor goes on with the next piece while this thread checks and reads the last one
  return blob.pipe(dec).pipe(handOff()).pipe(check);
}

export class SourceImage implements Image {
  readonly kind = "image";
  readonly description: string;
  readonly manifest: ImageManifest;
  readonly origin: BlobOrigin | undefined;
  private config?: Promise<Buffer>;
  private parsedConfig?: ConfigFile;

  constructor(
    private readonly source: ContentSource,
    readonly rawManifest: Buffer,
    readonly mediaType: string,
    readonly digest: Digest,
  ) {
    this.description = source.description;
    this.origin = source.origin;
    this.manifest = parseImageManifest(rawManifest, `manifest ${digest} of ${source.description}`);
  }

  rawConfig(opts?: OpenOptions): Promise<Buffer> {
    if (!this.config) {
      this.config = readVerified(this.source, this.manifest.config, "config", opts);
      this.config.catch(() => {
        this.config = undefined;
      });
    }
    return this.config;
  }

  async configFile(opts?: OpenOptions): Promise<ConfigFile> {
    if (!this.parsedConfig) {
      this.parsedConfig = parseConfigFile(await this.rawConfig(opts), `config of ${this.description}`);
    }
    return this.parsedConfig;
  }

  async layers(opts?: OpenOptions): Promise<Layer[]> {
    const cfg = await this.configFile(opts);
    const descs = this.manifest.layers;
    if (descs.length !== cfg.rootfs.diff_ids.length) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${this.description}: manifest has ${descs.length} layers but the config lists ${cfg.rootfs.diff_ids.length} diff_ids`,
      );
    }
    return descs.map((d, i) => new SourceLayer(this.source, d, cfg.rootfs.diff_ids[i]!));
  }
}

export class SourceIndex implements ImageIndex {
  readonly kind = "index";
  readonly description: string;
  readonly manifest;
  readonly origin: BlobOrigin | undefined;

  constructor(
    private readonly source: ContentSource,
    readonly rawManifest: Buffer,
    readonly mediaType: string,
    readonly digest: Digest,
  ) {
    this.description = source.description;
    this.origin = source.origin;
    this.manifest = parseIndexManifest(rawManifest, `index ${digest} of ${source.description}`);
  }

  children(): IndexChild[] {
    return this.manifest.manifests.map((descriptor) => ({
      descriptor,
      load: async (opts?: OpenOptions) => {
        const raw = await this.source.fetchManifest(descriptor, opts);
        verifyBytes(raw.bytes, descriptor, `manifest ${descriptor.digest} of ${this.description}`);
        return fromRawManifest(this.source, { ...raw, mediaType: descriptor.mediaType ?? raw.mediaType });
      },
    }));
  }
}

/** Build the right model object (image or index) for a fetched manifest. */
export function fromRawManifest(source: ContentSource, raw: RawManifest): ImageOrIndex {
  const what = `manifest ${raw.digest} of ${source.description}`;
  const mt = detectManifestMediaType(raw.bytes, raw.mediaType, what);
  if (isIndexMediaType(mt)) return new SourceIndex(source, raw.bytes, mt, raw.digest);
  return new SourceImage(source, raw.bytes, mt, raw.digest);
}
