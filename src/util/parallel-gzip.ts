import { availableParallelism } from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { crc32, createDeflateRaw, type ZlibOptions } from "node:zlib";
import { compacted } from "./buffers.js";
import { FixedBlocks } from "./fixed-blocks.js";

/**
 * `raw` deflated (raw deflate, no header): the pieces zlib gave, in order. zlib's own one-shot
 * `deflateRaw` joins them into a new buffer, one copy of every output byte more (it gets two: what
 * the input's write produced and the finish). The same engine calls, so the same bytes. Pieces are
 * `compacted`: a member waits for its turn, and a few hundred KiB would keep zlib's whole
 * member-sized output buffer allocated.
 */
function deflateRawParts(raw: Buffer, options: ZlibOptions): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const engine = createDeflateRaw(options);
    const parts: Buffer[] = [];
    engine.on("data", (b: Buffer) => parts.push(compacted(b)));
    engine.on("error", reject);
    engine.on("end", () => resolve(parts));
    engine.end(raw);
  });
}

/** Uncompressed bytes per gzip member. */
export const GZIP_MEMBER_SIZE = 1 << 20;

/**
 * gzip member header: no file name, no comment, modification time 0, XFL 0, OS 3 (Unix) — the
 * same bytes on every host, unlike zlib's own header whose OS byte depends on the platform.
 */
const HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03]);

/** One gzip member: header, the deflated data, trailer (CRC-32 and size of the raw data). */
function member(raw: Buffer, deflated: readonly Buffer[]): Buffer[] {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(raw), 0);
  trailer.writeUInt32LE(raw.length >>> 0, 4);
  return [HEADER, ...deflated, trailer];
}

/**
 * gzip on every core: the input is cut into fixed `memberSize` pieces, each deflated on its own in
 * zlib's thread pool (several at once) and written, in order, as one gzip member. Members
 * concatenate into one valid gzip stream (RFC 1952 §2.2; `gzip -d`, Go, containerd and zlib read
 * it whole). The cut points depend only on the data, so the output is byte-for-byte the same for
 * the same input, level and zlib, however the input arrives and however many cores run it.
 */
export function parallelGzip(
  level = 6,
  memberSize = GZIP_MEMBER_SIZE,
  inFlight = Math.max(2, availableParallelism()),
): Transform {
  const blocks = new FixedBlocks(memberSize);
  let members = 0;
  // deflates in order of submission; the oldest is written first
  const queue: Array<Promise<Buffer[]>> = [];

  const submit = (raw: Buffer) => {
    members++;
    // one output buffer for the whole member (zlib's 16 KiB default: a thread-pool round trip per piece)
    const p = deflateRawParts(raw, { level, chunkSize: raw.length + 1024 }).then((d) => {
      const m = member(raw, d);
      blocks.recycle(raw);
      return m;
    });
    p.catch(() => undefined); // observed when its turn comes
    queue.push(p);
  };
  const writeOldest = async (t: Transform) => {
    for (const part of await queue.shift()!) t.push(part);
  };

  return new Transform({
    writableHighWaterMark: memberSize,
    readableHighWaterMark: memberSize,
    async transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        for (const block of blocks.add(chunk)) {
          submit(block);
          // keep `inFlight` deflates running; wait for the oldest before taking more input
          while (queue.length >= inFlight) await writeOldest(this);
        }
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    async flush(cb: TransformCallback) {
      try {
        // the rest, or one empty member for empty input
        if (blocks.pending > 0 || members === 0) submit(blocks.rest());
        while (queue.length > 0) await writeOldest(this);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}
