import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { OcipatchError } from "../errors.js";

/**
 * Files of the machine ocipatch runs on (`--keyring`, the host's apt keyrings, config files, OCI
 * layout blobs, docker archives) are opened only as regular files and read only up to a cap:
 * a FIFO is refused without blocking (opened non-blocking, then fstat), a device such as
 * /dev/zero is refused instead of read without end, and a file that grows past its cap while
 * being read is refused.
 *
 * A file the user named for ocipatch to read (`--vuln-report <(grype …)`) may also be a pipe:
 * with `pipes`, a FIFO is read to its end, under the same cap, and `signal` gives up even
 * while the pipe has no writer or its writer stalls.
 */

/** Default cap for small host files (keyrings, configuration, manifests). */
export const DEFAULT_HOST_FILE_MAX_BYTES = 64 * 1024 * 1024;

interface RegularFileOptions {
  /** For messages, e.g. "keyring" → "keyring /x is a FIFO, not a regular file". */
  readonly what?: string;
  /** Also accept a pipe (FIFO): read it to its end (default false: refused without blocking). */
  readonly pipes?: boolean;
  /** Give up when it aborts (rejects with its reason), also while a pipe blocks. */
  readonly signal?: AbortSignal | undefined;
}

function kindOf(st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
}): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  if (st.isDirectory()) return "a directory";
  return "not a regular file";
}

/**
 * Open `path` for reading as a regular file (symlinks followed). Throws NOT_FOUND for a
 * missing file and IO for anything that is not a regular file — without blocking on FIFOs.
 */
export async function openRegularFile(path: string, opts: RegularFileOptions = {}): Promise<FileHandle> {
  const what = opts.what ? `${opts.what} ${path}` : path;
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR")
      throw new OcipatchError("NOT_FOUND", `${what} does not exist`, { cause: e, details: { path } });
    throw new OcipatchError("IO", `cannot open ${what}: ${(e as Error).message}`, {
      cause: e,
      details: { path },
    });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      const wanted = opts.pipes ? "a regular file or a pipe" : "a regular file";
      throw new OcipatchError("IO", `${what} is ${kindOf(st)}, not ${wanted}`, { details: { path } });
    }
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

function tooLarge(what: string, path: string, n: number, maxBytes: number): OcipatchError {
  return new OcipatchError(
    "INVALID_FORMAT",
    `${what} is ${n} bytes or more, more than the ${maxBytes} bytes allowed`,
    {
      details: { path, maxBytes },
    },
  );
}

/** Read a whole regular file (or, with `pipes`, a FIFO) of at most `maxBytes` bytes (see openRegularFile). */
export async function readRegularFile(
  path: string,
  maxBytes: number = DEFAULT_HOST_FILE_MAX_BYTES,
  opts: RegularFileOptions = {},
): Promise<Buffer> {
  const what = opts.what ? `${opts.what} ${path}` : path;
  opts.signal?.throwIfAborted();
  if (opts.pipes && (await isFifo(path))) return readPipe(path, maxBytes, what, opts.signal);
  const fh = await openRegularFile(path, opts);
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) throw tooLarge(what, path, size, maxBytes);
    // read up to one byte beyond the cap: a file that grew meanwhile is refused, not buffered
    let buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      opts.signal?.throwIfAborted();
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge(what, path, n, maxBytes);
        const grown = Buffer.alloc(Math.min(buf.length * 2, maxBytes + 1));
        buf.copy(grown, 0, 0, n);
        buf = grown;
      }
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return buf.subarray(0, n);
  } catch (e) {
    if (e instanceof OcipatchError || opts.signal?.aborted) throw e;
    throw new OcipatchError("IO", `cannot read ${what}: ${(e as Error).message}`, {
      cause: e,
      details: { path },
    });
  } finally {
    await fh.close().catch(() => undefined);
  }
}

async function isFifo(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFIFO();
  } catch {
    return false; // missing or unreadable: openRegularFile says which
  }
}

/** A FIFO read to its end under the cap; an open without a writer and a stalled read give way to `signal`. */
async function readPipe(
  path: string,
  maxBytes: number,
  what: string,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  const fh = await abortable(open(path, constants.O_RDONLY | constants.O_NOCTTY), signal, () =>
    unblockFifoOpen(path),
  ).catch((e: unknown) => {
    if (e instanceof OcipatchError || signal?.aborted) throw e;
    throw new OcipatchError("IO", `cannot open ${what}: ${(e as Error).message}`, {
      cause: e,
      details: { path },
    });
  });
  try {
    if (!(await fh.stat()).isFIFO()) {
      throw new OcipatchError("IO", `${what} changed while being opened`, { details: { path } });
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(1024 * 1024);
      const { bytesRead } = await abortable(fh.read(buf, 0, buf.length, null), signal, () => {});
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(what, path, total, maxBytes);
      chunks.push(buf.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    if (e instanceof OcipatchError || signal?.aborted) throw e;
    throw new OcipatchError("IO", `cannot read ${what}: ${(e as Error).message}`, {
      cause: e,
      details: { path },
    });
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
function unblockFifoOpen(path: string): void {
  open(path, constants.O_WRONLY | constants.O_NONBLOCK).then(
    (w) => void w.close().catch(() => {}),
    () => {
      // no reader waiting any more: nothing to release
    },
  );
}
