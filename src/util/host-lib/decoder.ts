import { Transform, type TransformCallback } from "node:stream";
import { compacted, SpareBuffers } from "../buffers.js";

/** Decoded bytes per call into the library (and per piece pushed). */
export const OUT_BYTES = 1 << 20;

/**
 * Input is gathered to this size before a call: each call is a trip to the thread pool, and
 * koffi's start of one costs ~0.2 ms of the main thread (the 64 KiB pieces of a file read made
 * 320 calls for nginx-bullseye's 39 data.tar.xz, 1 MiB pieces 87; docs/BENCHMARKS.md).
 */
const MIN_IN_BYTES = 1 << 20;

/** One decoding state of a host library (an lzma_stream, a ZSTD_DStream). */
export interface Codec {
  /** The input the next steps read from, from its start. */
  setInput(input: Buffer): void;
  /**
   * One call in the thread pool, decoding into `out` (OUT_BYTES). `more`: call again with the same
   * input (it is not used up, or the output was full). `finish`: no input follows; a codec whose
   * data stops short throws then. Errors are thrown as the message that says what is wrong.
   */
  step(out: Buffer, finish: boolean): Promise<{ produced: number; more: boolean; ended: boolean }>;
  /** Frees the library's state; called once. */
  free(): void;
}

/**
 * Output buffers no piece was handed out of (a step's piece is `compacted`: one that fills at most
 * half of its buffer is a copy), for the next step of any decoder. In a cold noble patch, small
 * members' outputs were 144 of the 264 MiB the decoders took (docs/BENCHMARKS.md, thirteenth
 * session).
 */
const spare = new SpareBuffers(OUT_BYTES);

/** A codec nobody freed (its decoder was dropped unfinished): its memory goes back here. */
const abandoned = new FinalizationRegistry<Codec>((codec) => codec.free());

/**
 * A streaming decoder over a host library's codec: each step runs in libuv's thread pool into a
 * 1 MiB buffer, handed on as it is when the step filled more than half of it, copied out (and the
 * buffer kept for a later step) when less; the output waits for its reader (no further step while
 * the decoded bytes are not read). Errors are `corrupt(message)`.
 */
export class HostDecoder extends Transform {
  private codec: Codec | undefined;
  private stepping = false;
  private wanted: (() => void) | undefined;
  /** Small input pieces not decoded yet (MIN_IN_BYTES). */
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;

  constructor(
    codec: Codec,
    private readonly corrupt: (message: string) => Error,
  ) {
    super({ readableHighWaterMark: OUT_BYTES });
    this.codec = codec;
    abandoned.register(this, codec, this);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.gatheredBytes + chunk.length < MIN_IN_BYTES) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      cb();
      return;
    }
    this.decode(this.takeGathered(chunk), false).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.decode(this.takeGathered(Buffer.alloc(0)), true).then(() => cb(), cb);
  }

  override _read(size: number): void {
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.stepping) this.free(); // else when the running step returns
    cb(err);
  }

  /** The gathered pieces and `chunk`, as one buffer. */
  private takeGathered(chunk: Buffer): Buffer {
    if (this.gathered.length === 0) return chunk;
    const all = Buffer.concat([...this.gathered, chunk]);
    this.gathered = [];
    this.gatheredBytes = 0;
    return all;
  }

  private free(): void {
    if (this.codec === undefined) return;
    this.codec.free();
    this.codec = undefined;
    abandoned.unregister(this);
  }

  /** Decode all of `input` (and, with `finish`, to the end of the data). */
  private async decode(input: Buffer, finish: boolean): Promise<void> {
    const codec = this.codec;
    if (codec === undefined) return; // the data ended already
    codec.setInput(input);
    for (;;) {
      const out = spare.take();
      this.stepping = true;
      let r: Awaited<ReturnType<Codec["step"]>>;
      try {
        // `input` and `out` stay referenced here until the call returns
        r = await codec.step(out, finish);
      } catch (e) {
        throw this.corrupt((e as Error).message);
      } finally {
        this.stepping = false;
        if (this.destroyed) this.free();
      }
      const piece = r.produced > 0 ? compacted(out.subarray(0, r.produced)) : undefined;
      if (piece?.buffer !== out.buffer) spare.giveBack(out);
      if (this.destroyed) return;
      if (piece !== undefined && !this.push(piece)) {
        await new Promise<void>((resume) => {
          this.wanted = resume;
        });
      }
      if (r.ended || (finish && !r.more)) this.free();
      if (r.ended || !r.more) return;
    }
  }
}

/** A decoder over the codec `open` makes; a codec that cannot start is `corrupt(message)` too. */
export function hostDecoder(open: () => Codec, corrupt: (message: string) => Error): HostDecoder {
  let codec: Codec;
  try {
    codec = open();
  } catch (e) {
    throw corrupt((e as Error).message);
  }
  return new HostDecoder(codec, corrupt);
}
