import type { Readable } from "node:stream";
import type { Digest } from "../util/digest.js";
import type { Layer, OpenOptions } from "./image.js";
import { openVerifiedFile } from "./local-blob.js";
import type { Descriptor } from "./manifest.js";
import type { Compression } from "./media-types.js";
import { uncompressLayer } from "./source.js";

/** A layer whose compressed blob is a local file with known digests (e.g. a freshly built patch layer). */
export class FileLayer implements Layer {
  readonly origin = undefined;
  readonly digest: Digest;
  readonly size: number;
  readonly mediaType: string;

  constructor(
    readonly path: string,
    readonly descriptor: Descriptor,
    readonly diffId: Digest,
    readonly compression: Compression,
  ) {
    this.digest = descriptor.digest;
    this.size = descriptor.size;
    this.mediaType = descriptor.mediaType;
  }

  async compressed(opts?: OpenOptions): Promise<Readable> {
    return openVerifiedFile(this.path, this.descriptor, "layer", opts);
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
