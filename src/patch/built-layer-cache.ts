/**
 * Patch layers built by earlier runs, kept across runs (`<cache>/layers/`). A patch layer is
 * reproducible: the same image layers, the same package files and the same ocipatch build give
 * it byte for byte, so a later run with the same inputs takes the stored layer instead of
 * downloading the packages and building it again.
 *
 * An entry is a directory named by the ocipatch build and the SHA-256 of its key: `layer` (the compressed blob) and
 * `entry.json` (what the build reported, validated when read). It is written beside (a name owned
 * by the writer's pid, swept once that process is gone) and renamed into place, so no reader sees
 * half of one. The blob is verified (SHA-256, size) while it is
 * copied into the run's scratch space; an entry that fails is removed and counts as a miss.
 * Past the size limit, the entries used least recently are removed.
 */
import { createReadStream } from "node:fs";
import { link, mkdir, open, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { z } from "zod";
import {
  EFFECT_STATUSES,
  type PatchLayer,
  type RecordCodec,
  SCRIPT_ACTION_KINDS,
  type ScriptReport,
} from "../backends/types.js";
import { isOcipatchError, undefinedIfNotFound } from "../errors.js";
import { FileLayer } from "../image/file-layer.js";
import { COMPRESSIONS } from "../image/media-types.js";
import type { InstalledPackage } from "../inventory/types.js";
import { buildTagOf, pruneCacheDir, storeBeside } from "../util/cache-entries.js";
import { type Digest, hexOf, isDigest, sha256 } from "../util/digest.js";
import { saveVerified } from "../util/verified-file.js";

/** Version of the entry format; a change makes every older entry a miss. */
const FORMAT = 1;

/** An entry: `<build hash (12)>-<key hash>`; being written: `.<entry>.ocipatch-<pid>-<hex>.tmp`. */
const ENTRY = /^([0-9a-f]{12})-[0-9a-f]{64}$/;
const TEMP_ENTRY = /^\.[0-9a-f]{12}-[0-9a-f]{64}\.ocipatch-\d+-[0-9a-f]+\.tmp$/;

/** Default size limit of the cache (blobs), 1 GiB. */
export const DEFAULT_LAYER_CACHE_BYTES = 1024 * 1024 * 1024;

const digestSchema = z.string().refine(isDigest, "not a digest") as unknown as z.ZodType<Digest>;

const scriptReportSchema = z.object({
  package: z.string(),
  fromVersion: z.string(),
  toVersion: z.string(),
  wouldHaveDoneSomething: z.boolean(),
  findings: z.array(
    z.object({
      script: z.string(),
      version: z.enum(["old", "new"]),
      invocation: z.string(),
      actions: z.array(z.object({ kind: z.enum(SCRIPT_ACTION_KINDS), detail: z.string() })),
    }),
  ),
  kinds: z.array(z.enum(SCRIPT_ACTION_KINDS)),
}) satisfies z.ZodType<ScriptReport>;

const entrySchema = z.object({
  format: z.literal(FORMAT),
  key: z.string(),
  layer: z.object({
    mediaType: z.string(),
    digest: digestSchema,
    size: z.number().int().nonnegative(),
    diffId: digestSchema,
    compression: z.enum(COMPRESSIONS),
  }),
  uncompressedSize: z.number().int().nonnegative(),
  entries: z.number().int().nonnegative(),
  paths: z.array(z.string()),
  packages: z.array(
    z.object({
      package: z.string(),
      architecture: z.string(),
      fromVersion: z.string().nullable(),
      toVersion: z.string(),
    }),
  ),
  installed: z
    .array(
      z.object({
        name: z.string(),
        version: z.string(),
        architecture: z.string(),
        sourceName: z.string(),
        sourceVersion: z.string(),
        held: z.boolean(),
        dbPath: z.string(),
        record: z.string(),
      }),
    )
    .nullable(),
  erased: z.array(z.object({ name: z.string(), architecture: z.string() })),
  keptConffiles: z.array(z.object({ package: z.string(), path: z.string() })),
  removed: z.array(z.string()),
  scripts: scriptReportSchema,
  scriptReports: z.array(scriptReportSchema).nullable(),
  maintainerEffects: z
    .array(
      z.object({
        package: z.string(),
        effect: z.string(),
        status: z.enum(EFFECT_STATUSES),
        detail: z.string(),
        paths: z.array(z.string()).optional(),
      }),
    )
    .nullable(),
  /** The OS identification files as the layer leaves them (absent in entries of earlier builds). */
  osFiles: z.array(z.tuple([z.string(), z.string()])).optional(),
  warnings: z.array(z.string()),
});

type Entry = z.infer<typeof entrySchema>;

/** A layer taken from the cache, or why a stored one was not usable. */
export interface CacheLookup {
  readonly layer: PatchLayer | undefined;
  /** A stored entry that failed its checks (removed). */
  readonly problem?: string | undefined;
}

export class BuiltLayerCache {
  /** The first 12 hex digits of the build ID's hash: the prefix of this build's entries. */
  private readonly buildTag: string;

  /**
   * @param dir the cache directory (created when first written)
   * @param buildId identifies the ocipatch build: an entry of another build is never used
   * @param maxBytes size limit of the stored blobs
   */
  constructor(
    readonly dir: string,
    private readonly buildId: string,
    private readonly maxBytes = DEFAULT_LAYER_CACHE_BYTES,
  ) {
    this.buildTag = buildTagOf(buildId);
  }

  /** The cache key of a build: everything its result depends on, as one string. */
  key(inputs: unknown): string {
    return JSON.stringify({ format: FORMAT, build: this.buildId, inputs });
  }

  private entryName(key: string): string {
    return `${this.buildTag}-${hexOf(sha256(key))}`;
  }

  /** The stored layer for `key`, copied (verified) to `layerPath`; undefined on a miss. */
  async get(
    key: string,
    records: RecordCodec | undefined,
    layerPath: string,
    signal?: AbortSignal,
  ): Promise<CacheLookup> {
    const dir = join(this.dir, this.entryName(key));
    let entry: Entry;
    try {
      const parsed = entrySchema.safeParse(JSON.parse(await readFile(join(dir, "entry.json"), "utf8")));
      if (!parsed.success) return await this.drop(dir, "its description is not valid");
      entry = parsed.data;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { layer: undefined };
      return await this.drop(dir, `its description cannot be read (${(e as Error).message})`);
    }
    if (entry.key !== key) return { layer: undefined };
    const l = entry.layer;
    let blob: Readable;
    try {
      blob = await openBlob(join(dir, "layer"));
    } catch (e) {
      // removed by another run's pruning since (or half removed: dropped here)
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      await rm(dir, { recursive: true, force: true });
      return { layer: undefined };
    }
    try {
      await saveVerified(signal ? addAbortSignal(signal, blob) : blob, layerPath, {
        sha256: l.digest,
        size: l.size,
      });
    } catch (e) {
      signal?.throwIfAborted();
      if (!isOcipatchError(e, "DIGEST_MISMATCH")) throw e;
      return await this.drop(dir, "its layer does not match its digest");
    }
    const now = new Date();
    await utimes(join(dir, "entry.json"), now, now).catch(() => {}); // only the eviction order suffers
    const installed = decodeInstalled(entry.installed, records);
    return {
      layer: {
        layer: new FileLayer(
          layerPath,
          { mediaType: l.mediaType, digest: l.digest, size: l.size },
          l.diffId,
          l.compression,
        ),
        uncompressedSize: entry.uncompressedSize,
        entries: entry.entries,
        paths: new Set(entry.paths),
        packages: entry.packages.map((p) => ({ ...p, fromVersion: p.fromVersion ?? undefined })),
        installed,
        ...(entry.erased.length > 0 ? { erased: entry.erased } : {}),
        keptConffiles: entry.keptConffiles,
        removed: entry.removed,
        scripts: entry.scripts,
        ...(entry.scriptReports ? { scriptReports: entry.scriptReports } : {}),
        ...(entry.maintainerEffects ? { maintainerEffects: entry.maintainerEffects } : {}),
        ...(entry.osFiles ? { osFiles: new Map(entry.osFiles) } : {}),
        warnings: entry.warnings,
      },
    };
  }

  /**
   * Store a layer built for `key`; then remove the least recently used entries past the limit.
   * Throws on a failure to write (the caller decides whether that matters); nothing half-written stays.
   */
  async put(
    key: string,
    records: RecordCodec | undefined,
    built: PatchLayer,
    signal?: AbortSignal,
  ): Promise<void> {
    // private, as the package cache: what is stored here goes into images unchecked by any signature
    await storeBeside(
      this.dir,
      this.entryName(key),
      async (tmp) => {
        await mkdir(tmp);
        const blob = join(tmp, "layer");
        // a hard link when the run's scratch space is on the same filesystem, else a copy
        await link(built.layer.path, blob).catch(async () => {
          const source = createReadStream(built.layer.path);
          await saveVerified(signal ? addAbortSignal(signal, source) : source, blob, {
            sha256: built.layer.digest,
            size: built.layer.size,
          });
        });
        await writeFile(join(tmp, "entry.json"), JSON.stringify(encodeEntry(key, built, records)));
      },
      (tmp, dir) =>
        rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST" && e.code !== "ENOTEMPTY") throw e;
          // another run stored the same layer first; or a run killed while removing it left a part
          if (await complete(dir)) return;
          await rm(dir, { recursive: true, force: true });
          await rename(tmp, dir).catch(async (again: NodeJS.ErrnoException) => {
            if (!(await complete(dir))) throw again;
          });
        }),
    );
    await this.prune().catch(() => {}); // stored; what pruning ran into, the next put meets again
  }

  private async drop(dir: string, why: string): Promise<CacheLookup> {
    await rm(dir, { recursive: true, force: true });
    return { layer: undefined, problem: `a cached patch layer was not used: ${why}; removed` };
  }

  /**
   * Remove the entries used least recently until the blobs fit the limit, entries of other builds
   * unused for a day, and what a run killed while storing or removing an entry left.
   */
  private prune(): Promise<void> {
    const { dir, buildTag, maxBytes } = this;
    return pruneCacheDir({ dir, entry: ENTRY, temp: TEMP_ENTRY, buildTag, maxBytes }, entryUse);
  }
}

/** An entry directory with both of its files. */
async function complete(dir: string): Promise<boolean> {
  return (
    (await statIfAny(join(dir, "entry.json"))) !== undefined &&
    (await statIfAny(join(dir, "layer"))) !== undefined
  );
}

function statIfAny(path: string) {
  return stat(path).catch(undefinedIfNotFound);
}

/** A read stream of `path`, opened (ENOENT thrown here, not later from the stream). */
async function openBlob(path: string): Promise<Readable> {
  const handle = await open(path, "r");
  return handle.createReadStream();
}

function encodeEntry(key: string, built: PatchLayer, codec: RecordCodec | undefined): Entry {
  const l = built.layer;
  return {
    format: FORMAT,
    key,
    layer: {
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      diffId: l.diffId,
      compression: l.compression,
    },
    uncompressedSize: built.uncompressedSize,
    entries: built.entries,
    paths: [...built.paths],
    packages: built.packages.map((p) => ({ ...p, fromVersion: p.fromVersion ?? null })),
    installed:
      codec && built.installed
        ? built.installed.map((p) => ({
            name: p.name,
            version: p.version,
            architecture: p.architecture,
            sourceName: p.sourceName,
            sourceVersion: p.sourceVersion,
            held: p.held,
            dbPath: p.dbPath,
            record: codec.encode(p),
          }))
        : null,
    erased: (built.erased ?? []).map((p) => ({ name: p.name, architecture: p.architecture })),
    keptConffiles: [...built.keptConffiles],
    removed: [...built.removed],
    scripts: built.scripts,
    scriptReports: built.scriptReports ? [...built.scriptReports] : null,
    maintainerEffects: built.maintainerEffects
      ? built.maintainerEffects.map(({ paths, ...m }) => ({ ...m, ...(paths ? { paths: [...paths] } : {}) }))
      : null,
    ...(built.osFiles ? { osFiles: [...built.osFiles] } : {}),
    warnings: [...built.warnings],
  };
}

/**
 * The installed records of a stored layer, each read back by its backend and checked against
 * the fields stored beside it; undefined (the patched image is read for the re-scan) when the
 * backend cannot read records back or one does not match.
 */
function decodeInstalled(
  stored: Entry["installed"],
  codec: RecordCodec | undefined,
): InstalledPackage[] | undefined {
  if (!stored || !codec) return undefined;
  const out: InstalledPackage[] = [];
  for (const s of stored) {
    const p = codec.decode(s.record, s.dbPath);
    if (!p || p.name !== s.name || p.version !== s.version || p.architecture !== s.architecture)
      return undefined;
    const { record: _, ...common } = s;
    out.push({ ...common, native: p.native });
  }
  return out;
}

/** An entry's last use and blob size; undefined for one without both files (being removed). */
async function entryUse(dir: string) {
  const [meta, blob] = await Promise.all([statIfAny(join(dir, "entry.json")), statIfAny(join(dir, "layer"))]);
  return meta && blob && { used: meta.mtimeMs, bytes: blob.size };
}
