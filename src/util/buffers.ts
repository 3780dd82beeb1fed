/**
 * `piece`, or a copy of it when it fills at most half of the memory it is a view of. A piece that
 * is kept a while (queued, read ahead, waiting to be written) keeps all of that memory allocated,
 * often until a full garbage collection: 1 MiB output buffers of the decoders and of zlib, holding
 * a few KiB each, made most of ubuntu-noble's peak RSS (docs/BENCHMARKS.md, thirteenth session).
 */
export function compacted(piece: Buffer): Buffer {
  return piece.length * 2 <= piece.buffer.byteLength ? Buffer.from(piece) : piece;
}

/**
 * Buffers of one size given back once nothing reads them, filled again before new memory is taken
 * (fresh memory faults in page by page); at most `limit` are kept.
 */
export class SpareBuffers {
  private readonly kept: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly limit = 4,
  ) {}

  take(): Buffer {
    return this.kept.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  giveBack(b: Buffer): void {
    if (b.length === this.size && this.kept.length < this.limit) this.kept.push(b);
  }
}
