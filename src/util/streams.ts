import { finished, type Readable, Transform, type Writable } from "node:stream";
import { OcipatchError } from "../errors.js";
import { FixedBlocks } from "./fixed-blocks.js";

/**
 * The chunks of a stream, each as it was pushed. `for await (const c of stream)` reads with
 * `stream.read()`, which joins every chunk buffered since the last read into a new buffer: a
 * reader that falls behind a socket copies most of the bytes once more (a 37 MB blob: ~90 ms of
 * CPU). Here the chunks are taken from 'data' events instead, and the stream is paused while more
 * than `maxQueued` bytes wait for the reader. Errors, and a close before the end, are thrown as
 * `for await` throws them; a reader that stops early destroys the stream, as `for await` does.
 */
export async function* chunksOf(stream: Readable, maxQueued = 1024 * 1024): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let head = 0;
  let queued = 0;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onData = (c: Buffer | string) => {
    const b = typeof c === "string" ? Buffer.from(c) : c;
    queue.push(b);
    queued += b.length;
    if (queued > maxQueued) stream.pause();
    notify();
  };
  const stopWatching = finished(stream, { writable: false }, (err) => {
    ended = true;
    failure = err ?? undefined;
    notify();
  });
  stream.on("data", onData);
  try {
    for (;;) {
      if (head < queue.length) {
        const c = queue[head] as Buffer;
        queue[head++] = EMPTY;
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        queued -= c.length;
        if (queued <= maxQueued && stream.isPaused() && !ended) stream.resume();
        yield c;
      } else if (ended) {
        if (failure !== undefined) throw failure;
        return;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    stream.off("data", onData);
    stopWatching();
    if (!ended) {
      stream.on("error", () => undefined); // the reader stopped: a later error has no one to tell
      stream.destroy();
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** Read a whole stream into memory, refusing more than `limit` bytes. */
export async function readAll(stream: Readable, limit = 256 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const b of chunksOf(stream)) {
    n += b.length;
    if (n > limit) {
      stream.on("error", () => undefined); // a late "aborted" error must not go unhandled
      stream.destroy();
      throw new OcipatchError("INVALID_FORMAT", `content larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, n);
}

/**
 * Destroys `stream` (when a failure has not yet) and resolves once it has closed. A pipeline into a
 * file stream rejects at the first error, while the stream may still be opening its file (in
 * libuv's threadpool): a file removed before that open ran can be created again after. Once the
 * stream closed, the open is over and a removal holds.
 */
export function discard(stream: Writable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  stream.destroy();
  return closed;
}

/**
 * Passes each chunk on in a later turn of the event loop. A decompressor working in libuv's
 * threadpool (zlib) hands its output to the stream it is piped into synchronously, and starts on
 * its next piece only once that stream's work on the last one (hashing, tar parsing) returned:
 * the two take turns. Behind this stream it goes on while this thread works (`bench/layer-read.ts`:
 * debian-bookworm's layer read in 0.97–0.99× the time of its inflate and hash alone, 1.06–1.10× without).
 */
export function handOff(): Transform {
  return new Transform({
    writableHighWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _enc, cb) {
      setImmediate(cb, null, chunk);
    },
  });
}

/** Consume a stream, discarding its data (drives verification streams to their end). */
export async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // discard
  }
}

/**
 * Append `items` to `target` one by one: `target.push(...items)` passes every item as an
 * argument and overflows the stack for large arrays (a status database of 150k packages).
 */
export function appendAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const x of items) target.push(x);
  return target;
}

/**
 * The pieces blobs are read in: a socket's chunks are joined to it (`openVerified`), files are
 * read in it. One trip per MiB through each stage after (digest, copy, decompressor) instead of one
 * per 64 KiB (docs/BENCHMARKS.md, thirteenth session).
 */
export const BLOB_PIECE_BYTES = 1024 * 1024;

/**
 * Joins small chunks into pieces of `size` bytes, the last one shorter (fewer, larger writes to a
 * pipe or file, fewer trips of each stage after it); up to `readyPieces` pieces wait for the reader.
 */
export function coalesce(size: number, readyPieces = 4): Transform {
  const blocks = new FixedBlocks(size);
  return new Transform({
    readableHighWaterMark: readyPieces * size,
    writableHighWaterMark: size,
    transform(chunk: Buffer, _enc, cb) {
      for (const b of blocks.add(chunk)) this.push(b);
      cb();
    },
    flush(cb) {
      const rest = blocks.rest();
      cb(null, rest.length > 0 ? rest : undefined);
    },
  });
}
