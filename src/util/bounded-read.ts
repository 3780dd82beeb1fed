import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { OcipatchError } from "../errors.js";

/**
 * Read a whole file the user named — a regular file or a pipe (`<(grype ...)`, a FIFO) —
 * with a size limit, giving up as soon as `signal` aborts, even while the pipe has no
 * writer or its writer stalls. Anything else (a directory, a device) is refused.
 */
export async function readFileBounded(
  path: string,
  opts: { readonly limit: number; readonly what: string; readonly signal?: AbortSignal | undefined },
): Promise<Buffer> {
  const { limit, what, signal } = opts;
  signal?.throwIfAborted();
  const st = await stat(path);
  if (!st.isFile() && !st.isFIFO()) {
    throw new OcipatchError("IO", `${what} ${path} is not a regular file or a pipe`);
  }
  if (st.isFile() && st.size > limit) {
    throw new OcipatchError("INVALID_FORMAT", `${what} ${path} is larger than ${limit} bytes`);
  }
  const fh = await abortable(open(path, "r"), signal, () => unblockFifoOpen(path, st.isFIFO()));
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1024 * 1024);
      const { bytesRead } = await abortable(fh.read(buf, 0, buf.length, null), signal, () => {});
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) {
        throw new OcipatchError("INVALID_FORMAT", `${what} ${path} is larger than ${limit} bytes`);
      }
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } finally {
    // a read still blocked on a pipe keeps its thread until the writer goes; the fd is closed then
    void fh.close().catch(() => {});
  }
}

/** Settle with `p`, or reject with the signal's reason when it aborts first (then run `onAbort`). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        if (signal.aborted) {
          // too late: release what was opened
          if (v && typeof (v as unknown as FileHandle).close === "function")
            void (v as unknown as FileHandle).close().catch(() => {});
          return;
        }
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}

/** An open() of a FIFO without a writer blocks a thread: become its writer for a moment to release it. */
function unblockFifoOpen(path: string, fifo: boolean): void {
  if (!fifo) return;
  open(path, constants.O_WRONLY | constants.O_NONBLOCK).then(
    (w) => void w.close().catch(() => {}),
    () => {
      // no reader waiting any more: nothing to release
    },
  );
}
