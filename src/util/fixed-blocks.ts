import { SpareBuffers } from "./buffers.js";

/**
 * Cuts a stream of chunks into blocks of exactly `size` bytes, copying each byte at most once: a
 * block lying whole inside one chunk is a view of it, the others are filled in a buffer of their
 * own. The caller must not change a chunk after handing it over (stream chunks are not).
 */
export class FixedBlocks {
  private block: Buffer | undefined;
  private filled = 0;
  /** Buffers this instance filled, handed out and not yet given back. */
  private readonly lent = new WeakSet<Buffer>();
  /** Buffers given back, filled again before new memory is taken. */
  private readonly spare: SpareBuffers;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`block size ${size}`);
    this.spare = new SpareBuffers(size);
  }

  /** Bytes held back for the next block. */
  get pending(): number {
    return this.filled;
  }

  /** The blocks `chunk` completes, in order. */
  add(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.filled === 0 && chunk.length - off >= this.size) {
        out.push(chunk.subarray(off, off + this.size));
        off += this.size;
        continue;
      }
      this.block ??= this.spare.take();
      const end = Math.min(chunk.length, off + this.size - this.filled);
      const n = chunk.copy(this.block, this.filled, off, end);
      this.filled += n;
      off += n;
      if (this.filled === this.size) {
        this.lent.add(this.block);
        out.push(this.block);
        this.block = undefined;
        this.filled = 0;
      }
    }
    return out;
  }

  /**
   * Gives a block back once nothing reads it any more; it is filled again by a later `add`. A
   * block that is a view of a caller's chunk is not taken (it is not this instance's memory).
   */
  recycle(block: Buffer): void {
    if (this.lent.delete(block)) this.spare.giveBack(block);
  }

  /** The last, shorter block (empty when nothing is held back). */
  rest(): Buffer {
    const b = this.block === undefined ? Buffer.alloc(0) : this.block.subarray(0, this.filled);
    this.block = undefined;
    this.filled = 0;
    return b;
  }
}
