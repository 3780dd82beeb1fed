/**
 * Layer indexes kept across runs (`<cache>/layer-index/`), as trivy keeps its analysis of each
 * layer: a layer's index (paths, metadata, captured small files, summaries) depends only on its
 * uncompressed content (the diffID), the capture settings and the ocipatch build. A later run of
 * an image with that layer takes the stored index and reads no byte of the layer; a file that is
 * not captured is then read from the image's own blob, verified, as without the cache.
 *
 * An entry is one file named by the build and the SHA-256 of its key: a magic, the SHA-256 of the
 * payload, and the payload (`v8.serialize` of the key and the index). It is written beside (a
 * name owned by the writer's pid) and renamed into place. One that fails its checks is removed
 * and counts as a miss; one not owned by this user alone is not read (a miss: the index stored
 * after the layer is read replaces it). Past the size limit, the entries used least recently are
 * removed.
 */
import { createHash } from "node:crypto";
import { type FileHandle, open, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { undefinedIfNotFound } from "../errors.js";
import { buildTagOf, pruneCacheDir, storeBeside } from "../util/cache-entries.js";
import { hexOf, sha256 } from "../util/digest.js";
import { ENTRY_TYPES } from "./entry.js";
import { LayerIndex, type LayerIndexRecord } from "./layer-index.js";

/** Version of the entry format; a change makes every older entry a miss. */
const FORMAT = 1;
const MAGIC = Buffer.from("OCIPIDX1");
const HEADER = MAGIC.length + 32;

const ENTRY = /^([0-9a-f]{12})-[0-9a-f]{64}\.idx$/;
const TEMP_ENTRY = /^\.[0-9a-f]{12}-[0-9a-f]{64}\.idx\.ocipatch-\d+-[0-9a-f]+\.tmp$/;

/** Default size limit of the index cache, 256 MiB. */
export const DEFAULT_INDEX_CACHE_BYTES = 256 * 1024 * 1024;

export class LayerIndexCache {
  /** The first 12 hex digits of the build ID's hash: the prefix of this build's entries. */
  private readonly buildTag: string;
  /** Keys stored by this process: a layer indexed by several views is written once. */
  private readonly stored = new Set<string>();

  /**
   * @param dir the cache directory (created when first written)
   * @param buildId identifies the ocipatch build: an entry of another build is never used
   * @param maxBytes size limit of the stored entries
   */
  constructor(
    readonly dir: string,
    private readonly buildId: string,
    private readonly maxBytes = DEFAULT_INDEX_CACHE_BYTES,
  ) {
    this.buildTag = buildTagOf(buildId);
  }

  private key(diffId: string, variant: string): string {
    return JSON.stringify({ format: FORMAT, build: this.buildId, v8: process.versions.v8, diffId, variant });
  }

  private name(key: string): string {
    return `${this.buildTag}-${hexOf(sha256(key))}.idx`;
  }

  /**
   * The stored index of the layer with `diffId` indexed with settings `variant`, as layer
   * `index` of a view described by `what`; undefined on a miss (a damaged entry is removed).
   */
  async get(diffId: string, variant: string, index: number, what: string): Promise<LayerIndex | undefined> {
    const key = this.key(diffId, variant);
    const file = join(this.dir, this.name(key));
    const bytes = await readOwnEntry(file);
    if (bytes === undefined) return undefined;
    const record = decode(bytes, key);
    if (record === undefined) {
      this.stored.delete(key); // stored again once read
      await rm(file, { force: true });
      return undefined;
    }
    const now = new Date();
    await utimes(file, now, now).catch(() => {}); // only the eviction order suffers
    this.stored.add(key);
    return LayerIndex.fromRecord(record, index, what);
  }

  /**
   * Store the index of the layer with `diffId` (indexed with `variant`), then remove the least
   * recently used entries past the limit. Throws on a failure to write; nothing half-written stays.
   */
  async put(diffId: string, variant: string, idx: LayerIndex): Promise<void> {
    const key = this.key(diffId, variant);
    if (this.stored.has(key)) return;
    this.stored.add(key);
    const payload = serialize({ key, record: idx.toRecord() });
    try {
      // private, as the other caches; owner-only: it holds copies of small files of the image (etc/**)
      await storeBeside(this.dir, this.name(key), (tmp) =>
        writeFile(tmp, Buffer.concat([MAGIC, rawSha256(payload), payload]), { mode: 0o600 }),
      );
    } catch (e) {
      this.stored.delete(key);
      throw e;
    }
    await this.prune().catch(() => {}); // stored; what pruning ran into, the next put meets again
  }

  /**
   * Remove the entries used least recently until they fit the limit, entries of other builds
   * unused for a day, and what a run killed while storing one left.
   */
  private prune(): Promise<void> {
    const { dir, buildTag, maxBytes } = this;
    return pruneCacheDir({ dir, entry: ENTRY, temp: TEMP_ENTRY, buildTag, maxBytes }, entryUse);
  }
}

/**
 * An entry's bytes, when this user wrote it (owned by this process's user, readable and writable
 * by it alone, as `put` stores it): an index tells the scan what the image holds, so one another
 * user could have placed, in a cache directory shared by mistake, is a miss and the layer is read.
 */
async function readOwnEntry(file: string): Promise<Buffer | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, "r");
  } catch {
    return undefined; // missing or unreadable: a miss, the layer is read
  }
  try {
    const st = await fh.stat();
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) return undefined;
    return await fh.readFile();
  } catch {
    return undefined; // unreadable after all: a miss, the layer is read
  } finally {
    await fh.close();
  }
}

/** The record in an entry's bytes when they are whole and stored for `key`; else undefined. */
function decode(bytes: Buffer, key: string): LayerIndexRecord | undefined {
  if (bytes.length < HEADER || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const payload = bytes.subarray(HEADER);
  if (!rawSha256(payload).equals(bytes.subarray(MAGIC.length, HEADER))) return undefined;
  let value: unknown;
  try {
    value = deserialize(payload);
  } catch {
    return undefined; // written by another V8's serializer
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as { key?: unknown; record?: unknown };
  return v.key === key && isRecord(v.record) ? v.record : undefined;
}

function rawSha256(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

const entryTypes: ReadonlySet<string> = new Set(ENTRY_TYPES);

/** The shape of a LayerIndexRecord, each stored entry's type and numbers included. */
function isRecord(r: unknown): r is LayerIndexRecord {
  if (typeof r !== "object" || r === null) return false;
  const x = r as Record<string, unknown>;
  const sets = [x["implicitDirs"], x["whiteouts"], x["opaqueDirs"]];
  const maps = [x["entries"], x["children"], x["whiteoutChildren"]];
  const numbers = [x["entryCount"], x["uncompressedBytes"], x["capturedBytes"], x["summarizedFiles"]];
  if (!sets.every((s) => s instanceof Set) || !maps.every((m) => m instanceof Map)) return false;
  if (!numbers.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return false;
  if (!Array.isArray(x["warnings"]) || !x["warnings"].every((w) => typeof w === "string")) return false;
  for (const m of [x["children"], x["whiteoutChildren"]] as Map<unknown, unknown>[])
    for (const [k, v] of m) if (typeof k !== "string" || !(v instanceof Set)) return false;
  for (const [rel, e] of x["entries"] as Map<unknown, unknown>) {
    if (typeof rel !== "string" || typeof e !== "object" || e === null) return false;
    const s = e as Record<string, unknown>;
    if (typeof s["type"] !== "string" || !entryTypes.has(s["type"])) return false;
    if (![s["mode"], s["size"], s["contentOrdinal"]].every((n) => Number.isSafeInteger(n))) return false;
    if (s["content"] !== undefined && !Buffer.isBuffer(s["content"])) return false;
    if (s["summaries"] !== undefined && !(s["summaries"] instanceof Map)) return false;
  }
  return true;
}

/** An entry's last use and size (undefined: removed meanwhile). */
async function entryUse(file: string) {
  const st = await stat(file).catch(undefinedIfNotFound);
  return st && { used: st.mtimeMs, bytes: st.size };
}
