import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import type { Digest } from "../util/digest.js";
import { discard } from "../util/streams.js";
import type { Image, Layer, OpenOptions } from "./image.js";
import { readBlobFile } from "./local-blob.js";
import { uncompressLayer } from "./source.js";

/**
 * A layer that keeps a local copy of its blob the first time it is read in full, and
 * serves later reads from that copy (e.g. the re-scan of a patched image reads the base
 * layers again). The copy is only kept when the whole blob passed through (and its digest
 * was verified by the inner layer); a partial read leaves nothing behind.
 */
class CachedLayer implements Layer {
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly size: number;
  readonly mediaType: string;
  readonly compression: Layer["compression"];
  readonly descriptor: Layer["descriptor"];
  readonly origin: Layer["origin"];
  private readonly file: string;
  private tmpCounter = 0;

  constructor(
    readonly inner: Layer,
    dir: string,
  ) {
    this.digest = inner.digest;
    this.diffId = inner.diffId;
    this.size = inner.size;
    this.mediaType = inner.mediaType;
    this.compression = inner.compression;
    this.descriptor = inner.descriptor;
    this.origin = inner.origin;
    this.file = join(dir, inner.digest.replace(":", "-"));
  }

  private async cached(): Promise<boolean> {
    try {
      return (await stat(this.file)).size === this.size;
    } catch {
      return false;
    }
  }

  async compressed(opts?: OpenOptions): Promise<Readable> {
    if (await this.cached()) return readBlobFile(this.file, opts?.signal);
    const src = await this.inner.compressed(opts);
    const tmp = `${this.file}.${process.pid}.${this.tmpCounter++}.part`;
    const out = createWriteStream(tmp, { mode: 0o600 });
    const pass = new PassThrough();
    let failed = false;
    /** The copy is an optimisation: losing it must not fail the read. Closed before it is removed. */
    const dropCopy = () => {
      failed = true;
      discard(out)
        .then(() => rm(tmp, { force: true }))
        .catch(() => undefined); // at worst a stray .part file stays
    };
    src.on("error", (e: Error) => {
      dropCopy();
      pass.destroy(e);
    });
    out.on("error", dropCopy);
    src.on("data", (chunk: Buffer) => {
      if (!failed && !out.destroyed) out.write(chunk);
      if (!pass.write(chunk)) {
        src.pause();
        pass.once("drain", () => src.resume());
      }
    });
    src.on("end", () => {
      pass.end();
      if (failed || out.destroyed) return;
      out.end(() => {
        rename(tmp, this.file).catch(() => rm(tmp, { force: true }).catch(() => undefined));
      });
    });
    pass.on("close", () => {
      if (!src.readableEnded) {
        src.destroy();
        dropCopy();
      }
    });
    return pass;
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

/** The same image, with every layer read through a CachedLayer in `dir`. */
export function withCachedLayers(image: Image, dir: string): Image {
  let layers: Promise<Layer[]> | undefined;
  return new Proxy(image, {
    get(target, prop, receiver) {
      if (prop === "layers") {
        return (opts?: OpenOptions) => {
          layers ??= target.layers(opts).then((ls) => ls.map((l) => new CachedLayer(l, dir)));
          return layers;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
