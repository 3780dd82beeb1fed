import { randomBytes } from "node:crypto";
import { access, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { OcipatchError } from "../../../errors.js";

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

async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new OcipatchError("IO", `cannot write cache file ${path}: ${(e as Error).message}`, { cause: e });
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

  async getIndex(sha256: string, size: number): Promise<Buffer | undefined> {
    try {
      const b = await readFile(this.indexPath(sha256));
      return b.length === size ? b : undefined;
    } catch {
      return undefined;
    }
  }

  async putIndex(sha256: string, content: Buffer): Promise<void> {
    await atomicWrite(this.indexPath(sha256), content);
  }
}
