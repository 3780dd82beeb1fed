import { type Readable, Transform, type TransformCallback } from "node:stream";
import * as tar from "tar-stream";
import { OcipatchError } from "../errors.js";

/** Refuses to pass more than `limit` bytes (decompression bombs). */
class ByteLimit extends Transform {
  bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      cb(
        new OcipatchError(
          "HOSTILE_LAYER",
          `${this.what}: more than ${this.limit} bytes once decompressed (decompression bomb?)`,
        ),
      );
      return;
    }
    cb(null, chunk);
  }
}

/** One entry of a tar stream (header + content stream). */
export type TarEntry = tar.ExtractEvents["entry"][1];
export type TarHeader = tar.Header;

/** Read a tar entry's content (at most `limit` bytes). */
export async function readEntry(entry: TarEntry, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of entry as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit)
      throw new OcipatchError(
        "INVALID_FORMAT",
        `tar entry ${entry.header.name} is larger than ${limit} bytes`,
      );
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Skip a tar entry's content. */
export async function skipEntry(entry: TarEntry): Promise<void> {
  for await (const _ of entry as AsyncIterable<Buffer>) {
    // discard
  }
}

interface TarScanLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

interface TarScanResult {
  /** Uncompressed bytes seen. */
  readonly bytes: number;
  /** Tar headers seen (1-based ordinal of the last one). */
  readonly entries: number;
  /** True when the handler stopped the scan before the end. */
  readonly stopped: boolean;
}

/**
 * Stream the entries of an uncompressed tar. `handler` gets each entry (it must
 * consume or drain the entry stream) and its 1-based ordinal; returning true stops
 * the scan and destroys the source. Without a stop, the source is read to its end,
 * so its own verification (diffID) runs.
 */
export async function scanTar(
  source: Readable,
  what: string,
  limits: TarScanLimits,
  handler: (entry: TarEntry, ordinal: number) => Promise<boolean | undefined>,
): Promise<TarScanResult> {
  const counter = new ByteLimit(limits.maxBytes, what);
  const extract = tar.extract();
  let failure: unknown;
  const fail = (e: unknown): void => {
    if (failure === undefined) failure = e;
    extract.destroy(e as Error);
  };
  source.on("error", fail);
  counter.on("error", fail);
  source.pipe(counter);
  counter.pipe(extract as unknown as NodeJS.WritableStream);
  let ordinal = 0;
  let stopped = false;
  try {
    for await (const entry of extract) {
      ordinal++;
      if (ordinal > limits.maxEntries) {
        throw new OcipatchError(
          "HOSTILE_LAYER",
          `${what}: more than ${limits.maxEntries} entries (refusing to index it)`,
        );
      }
      if (await handler(entry, ordinal)) {
        stopped = true;
        break;
      }
    }
  } catch (e) {
    // A stream error (digest, bomb) explains a parser error that follows it.
    const err = failure instanceof OcipatchError ? failure : wrapTarError(e, what);
    source.destroy();
    counter.destroy();
    extract.destroy();
    throw err;
  }
  if (stopped) {
    source.destroy();
    counter.destroy();
    extract.destroy();
  } else if (failure !== undefined) {
    throw wrapTarError(failure, what);
  }
  return { bytes: counter.bytes, entries: ordinal, stopped };
}

function wrapTarError(e: unknown, what: string): unknown {
  if (e instanceof OcipatchError) return e;
  // a cancelled read is a cancellation, not a broken layer
  const name = (e as Error | undefined)?.name;
  if (name === "AbortError" || name === "TimeoutError") {
    return new OcipatchError("CANCELLED", `reading ${what} was cancelled`, { cause: e });
  }
  const msg = e instanceof Error ? e.message : String(e);
  return new OcipatchError("INVALID_FORMAT", `${what}: not a valid tar stream (${msg})`, { cause: e });
}

/**
 * Read the contents of several entries of one tar in a single pass: `wanted`
 * maps 1-based ordinals to the callback that gets the content. Entries larger
 * than `maxFileBytes` get an INVALID_FORMAT error through their callback's
 * `tooLarge` instead of their content. Stops after the last wanted entry when
 * `stopEarly`.
 */
export async function readEntryContents(
  source: Readable,
  wanted: ReadonlyMap<number, (content: Buffer | undefined, size: number) => Promise<void> | void>,
  what: string,
  limits: { maxEntries: number; maxBytes: number; maxFileBytes: number },
  stopEarly: boolean,
): Promise<void> {
  const last = Math.max(0, ...wanted.keys());
  const seen = new Set<number>();
  await scanTar(source, what, limits, async (entry, n) => {
    const cb = wanted.get(n);
    if (!cb) {
      await skipEntry(entry);
      return stopEarly && n >= last;
    }
    seen.add(n);
    const size = entry.header.size ?? 0;
    if (size > limits.maxFileBytes) {
      await skipEntry(entry);
      await cb(undefined, size);
    } else {
      await cb(await readEntry(entry, size), size);
    }
    return stopEarly && n >= last;
  });
  for (const n of wanted.keys()) {
    if (!seen.has(n)) throw new OcipatchError("INTERNAL", `${what}: entry #${n} vanished on re-read`);
  }
}
