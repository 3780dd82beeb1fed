import type { Readable } from "node:stream";
import { OcipatchError } from "../errors.js";

/** Read a whole stream into memory, refusing more than `limit` bytes. */
export async function readAll(stream: Readable, limit = 256 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === "string" ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > limit) {
      stream.on("error", () => undefined); // a late "aborted" error must not go unhandled
      stream.destroy();
      throw new OcipatchError("INVALID_FORMAT", `content larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
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
