import { createWriteStream, type WriteStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { discard } from "../util/streams.js";

/**
 * Pass-through that counts bytes, reports progress and optionally keeps a copy
 * of everything in a file (backpressure-aware).
 */
export class BlobTap extends Transform {
  bytes = 0;
  private readonly copy: WriteStream | undefined;

  constructor(
    copyPath: string | undefined,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
    if (copyPath !== undefined) {
      this.copy = createWriteStream(copyPath, { mode: 0o600, flags: "wx" });
      this.copy.on("error", (e) => this.destroy(e));
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    if (this.copy && !this.copy.write(chunk)) {
      this.copy.once("drain", () => cb(null, chunk));
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.copy) {
      cb();
      return;
    }
    this.copy.end(() => cb());
  }

  /** Destroys the copy and resolves once it has closed: its file can then be removed for good. */
  discardCopy(): Promise<void> {
    return this.copy ? discard(this.copy) : Promise.resolve();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.copy?.destroy();
    cb(err);
  }
}
