import { OcipatchError } from "../../../errors.js";

/**
 * Sequential reads of exact byte counts from a chunked async source, without
 * buffering more than one chunk ahead. Used to walk the `ar` container of a .deb.
 */
export class ByteReader {
  private readonly it: AsyncIterator<Buffer | string>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes consumed so far (offset of the next byte). */
  offset = 0;

  constructor(
    source: AsyncIterable<Buffer | string>,
    private readonly what: string,
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const b = typeof r.value === "string" ? Buffer.from(r.value) : r.value;
    this.pending = this.pending.length === 0 ? b : Buffer.concat([this.pending, b]);
    return true;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    while (this.pending.length === 0) {
      if (!(await this.fill())) return true;
    }
    return false;
  }

  /** Exactly `n` bytes; a short source is a truncated file. */
  async read(n: number, context: string): Promise<Buffer> {
    while (this.pending.length < n) {
      if (!(await this.fill())) {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${this.what}: truncated at byte ${this.offset + this.pending.length} while reading ${context}`,
        );
      }
    }
    const out = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    this.offset += n;
    return out;
  }

  /** The next `n` bytes as chunks, as they arrive. */
  async *chunks(n: number, context: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.pending.length === 0 && !(await this.fill())) {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${this.what}: truncated at byte ${this.offset} while reading ${context}`,
        );
      }
      const take = Math.min(left, this.pending.length);
      const out = this.pending.subarray(0, take);
      this.pending = this.pending.subarray(take);
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number, context: string): Promise<void> {
    for await (const _ of this.chunks(n, context)) {
      // discard
    }
  }

  /** Stop reading the source early (lets a file stream close). */
  async close(): Promise<void> {
    this.done = true;
    this.pending = Buffer.alloc(0);
    await this.it.return?.();
  }
}
