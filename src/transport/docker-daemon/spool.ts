import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { type FileHandle, open, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { ioError } from "../atomic-fs.js";

/** A stream saved once to a private temporary file, readable by path while the process lives. */
interface Spool {
  /** A path that reads the spooled bytes (`/proc/self/fd/N` for an already unlinked file). */
  readonly path: string;
  readonly size: number;
}

const open_ = new Set<FileHandle>();
const leftover = new Set<string>();
let hooked = false;

function cleanupOnExit(): void {
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const fh of open_) void fh.close().catch(() => {});
    for (const p of leftover) {
      try {
        rmSync(p, { force: true });
      } catch {
        // nothing to do at exit
      }
    }
  });
}

/**
 * Save `src` to a temporary file that is unlinked right away (Linux: read back
 * through `/proc/self/fd`), so nothing is left behind whatever happens; elsewhere
 * the file is removed when the process exits.
 */
export async function spoolToTempFile(
  src: Readable,
  opts: { dir?: string | undefined; signal?: AbortSignal | undefined } = {},
): Promise<Spool> {
  const dir = opts.dir ?? tmpdir();
  const path = join(dir, `.ocipatch-engine-export-${randomBytes(6).toString("hex")}.tar`);
  let fh: FileHandle;
  try {
    fh = await open(path, "wx+", 0o600);
  } catch (e) {
    src.destroy();
    throw ioError(`cannot create a temporary file for the image export in ${dir}`, e);
  }
  const viaProc = existsSync(`/proc/self/fd/${fh.fd}`);
  // the name is only needed until the file is open; if it cannot go now, it goes at exit
  if (viaProc) await unlink(path).catch(() => leftover.add(path));
  else leftover.add(path);
  cleanupOnExit();
  try {
    let size = 0;
    for await (const chunk of src) {
      opts.signal?.throwIfAborted();
      const b = chunk as Buffer;
      // a failed write (a full disk) is this host's, not the engine's: an IO error naming the directory
      await fh.write(b, 0, b.length, size).catch((e: unknown) => {
        src.destroy();
        throw ioError(`cannot save the image export to a temporary file in ${dir}`, e);
      });
      size += b.length;
    }
    open_.add(fh);
    return { path: viaProc ? `/proc/self/fd/${fh.fd}` : path, size };
  } catch (e) {
    await fh.close().catch(() => {});
    if (!viaProc) {
      leftover.delete(path);
      await rm(path, { force: true }).catch(() => {});
    }
    throw e;
  }
}
