import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { OcipatchError } from "../errors.js";

/**
 * Files of the machine ocipatch runs on (`--keyring`, the host's apt keyrings, config files, OCI
 * layout blobs, docker archives) are opened only as regular files and read only up to a cap:
 * a FIFO is refused without blocking (opened non-blocking, then fstat), a device such as
 * /dev/zero is refused instead of read without end, and a file that grows past its cap while
 * being read is refused.
 */

/** Default cap for small host files (keyrings, configuration, manifests). */
export const DEFAULT_HOST_FILE_MAX_BYTES = 64 * 1024 * 1024;

export interface RegularFileOptions {
  /** For messages, e.g. "keyring" → "keyring /x is a FIFO, not a regular file". */
  readonly what?: string;
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
      throw new OcipatchError("IO", `${what} is ${kindOf(st)}, not a regular file`, { details: { path } });
    }
    return fh;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

/** Read a whole regular file of at most `maxBytes` bytes (see openRegularFile). */
export async function readRegularFile(
  path: string,
  maxBytes: number = DEFAULT_HOST_FILE_MAX_BYTES,
  opts: RegularFileOptions = {},
): Promise<Buffer> {
  const what = opts.what ? `${opts.what} ${path}` : path;
  const fh = await openRegularFile(path, opts);
  try {
    const { size } = await fh.stat();
    const tooLarge = (n: number): OcipatchError =>
      new OcipatchError(
        "INVALID_FORMAT",
        `${what} is ${n} bytes or more, more than the ${maxBytes} bytes allowed`,
        {
          details: { path, maxBytes },
        },
      );
    if (size > maxBytes) throw tooLarge(size);
    // read up to one byte beyond the cap: a file that grew meanwhile is refused, not buffered
    let buf = Buffer.alloc(Math.min(size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > maxBytes) throw tooLarge(n);
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
    if (e instanceof OcipatchError) throw e;
    throw new OcipatchError("IO", `cannot read ${what}: ${(e as Error).message}`, {
      cause: e,
      details: { path },
    });
  } finally {
    await fh.close().catch(() => undefined);
  }
}
