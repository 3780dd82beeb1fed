import { createHash, randomBytes } from "node:crypto";
import {
  access,
  type FileHandle,
  mkdir,
  open,
  readFile,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { OcipatchError } from "../../../errors.js";
import type { ReleaseFileEntry } from "./release.js";

/** The user's cache directory: `$OCIPATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/ocipatch`, else `~/.cache/ocipatch`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env["OCIPATCH_CACHE_DIR"];
  if (own) return own;
  const xdg = env["XDG_CACHE_HOME"];
  if (xdg) return join(xdg, "ocipatch");
  return join(env["HOME"] || homedir(), ".cache", "ocipatch");
}

/** What was cached for a URL fetched with conditional requests. */
interface CachedFile {
  readonly body: Buffer;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
}

/** apt's naming of list files: the URL without scheme, `/` replaced by `_`. */
export function urlToFileName(url: string): string {
  return url
    .replace(/^[a-z]+:\/\//i, "")
    .replace(/^[^/@]*@/, "")
    .replace(/[^A-Za-z0-9.+~-]/g, "_");
}

/** A failed write of a cache file: the IO error naming the file. */
function cannotWrite(path: string, e: unknown): OcipatchError {
  return new OcipatchError("IO", `cannot write cache file ${path}: ${(e as Error).message}`, { cause: e });
}

async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined); // failed already: its error is the one thrown
    throw cannotWrite(path, e);
  }
}

/**
 * On-disk cache of the apt client:
 *   lists/<url-as-name>        signed release files (InRelease, Release, Release.gpg) + `.meta.json`
 *   indices/sha256/<hex>       decompressed Packages indices, content-addressed by their SHA256
 *                              (written only after verification against a signed Release, so a
 *                              cached index never needs downloading again)
 */
export class AptCache {
  readonly root: string;

  constructor(cacheDir: string) {
    this.root = join(cacheDir, "apt");
  }

  private listPath(url: string): string {
    return join(this.root, "lists", urlToFileName(url));
  }

  async getList(url: string): Promise<CachedFile | undefined> {
    const p = this.listPath(url);
    try {
      const body = await readFile(p);
      let meta: { etag?: string; lastModified?: string } = {};
      try {
        meta = JSON.parse(await readFile(`${p}.meta.json`, "utf8")) as typeof meta;
      } catch {
        // no validators: an unconditional request next time
      }
      return { body, etag: meta.etag, lastModified: meta.lastModified };
    } catch {
      return undefined;
    }
  }

  /** Whether a copy of `url` is kept (without reading it). */
  async hasList(url: string): Promise<boolean> {
    return access(this.listPath(url)).then(
      () => true,
      () => false,
    );
  }

  async putList(url: string, file: CachedFile): Promise<void> {
    const p = this.listPath(url);
    await atomicWrite(p, file.body);
    await atomicWrite(
      `${p}.meta.json`,
      JSON.stringify({ url, etag: file.etag, lastModified: file.lastModified }),
    );
  }

  async dropList(url: string): Promise<void> {
    const p = this.listPath(url);
    await rm(p, { force: true });
    await rm(`${p}.meta.json`, { force: true });
  }

  indexPath(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new OcipatchError("INTERNAL", `bad sha256 "${sha256}"`);
    return join(this.root, "indices", "sha256", sha256);
  }

  /** Whether the cache holds the index of this SHA-256 and size (taken by its size: the cache's own files). */
  async hasIndex(sha256: string, size: number): Promise<boolean> {
    return stat(this.indexPath(sha256)).then(
      (st) => st.isFile() && st.size === size,
      () => false,
    );
  }

  /**
   * Save an index's decoded bytes as they come, checked against the signed Release's entry on the
   * way (more bytes than it lists stop the save); the file is in place only when size and SHA-256
   * match. A failure leaves no file: DIGEST_MISMATCH for other bytes, IO for the disk, and what
   * `pieces` throws as it is.
   */
  async saveIndex(entry: ReleaseFileEntry, pieces: AsyncIterable<Buffer>, what: string): Promise<void> {
    const path = this.indexPath(entry.sha256);
    const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    /** A step on the disk: its failure is the IO error naming the file. */
    const io = <T>(step: Promise<T>): Promise<T> =>
      step.catch((e: unknown) => {
        throw cannotWrite(path, e);
      });
    let file: FileHandle | undefined;
    try {
      await io(mkdir(dirname(path), { recursive: true }));
      file = await io(open(tmp, "wx"));
      const hash = createHash("sha256");
      let n = 0;
      for await (const b of pieces) {
        n += b.length;
        if (n > entry.size)
          throw new OcipatchError(
            "DIGEST_MISMATCH",
            `${what}: more than the ${entry.size} bytes the Release lists`,
          );
        hash.update(b);
        await io(file.write(b));
      }
      const got = hash.digest("hex");
      if (n !== entry.size || got !== entry.sha256) {
        throw new OcipatchError(
          "DIGEST_MISMATCH",
          `${what}: does not match the signed Release (sha256 ${got}, ${n} bytes; expected ${entry.sha256}, ${entry.size} bytes)`,
        );
      }
      await io(file.close());
      file = undefined;
      await io(rename(tmp, path));
    } catch (e) {
      await file?.close().catch(() => undefined); // failed already: its error is the one thrown
      await rm(tmp, { force: true }).catch(() => undefined); // failed already: its error is the one thrown
      throw e;
    }
  }
}
