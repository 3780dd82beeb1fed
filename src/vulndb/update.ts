import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import type { ProgressListener } from "../util/progress.js";
import { VERSION } from "../version.js";
import { displayLocation, type FetchOptions, fetchFeedLocation, isUrl } from "./fetch.js";
import { databasePath } from "./location.js";
import { FEEDS, feedByName } from "./sources/index.js";
import { SkipLog } from "./sources/types.js";
import { DatabaseBuilder, type FeedRow } from "./store/builder.js";
import { type StoredFeed, VulnDatabase } from "./store/database.js";
import { type DatabaseMetadata, FEED_NAMES, type FeedName } from "./types.js";

export interface UpdateOptions {
  readonly dbDir: string;
  /**
   * Locations given by the user (`--source NAME=PATH_OR_URL`): only these feeds are
   * refreshed, from exactly these locations; the other feeds are kept as they are.
   */
  readonly locations?: Partial<Record<FeedName, readonly string[]>>;
  /**
   * Without `locations`: which feeds to refresh. Default: the feeds already in the
   * database (from their recorded locations), or on a fresh database every feed
   * enabled by default (from its official locations).
   */
  readonly feeds?: readonly FeedName[];
  /** Ignore ETag/Last-Modified/mtime: download and parse everything again. */
  readonly force?: boolean;
  readonly progress?: ProgressListener;
  readonly fetch?: Omit<FetchOptions, "tmpDir" | "force">;
  /** Base for relative paths (default: the current directory). */
  readonly cwd?: string;
}

export type LocationOutcome =
  /** new content was parsed and stored */
  | "imported"
  /** not modified since the last update: previous rows kept */
  | "unchanged"
  /** an optional default location that does not exist (e.g. a secdb release not published) */
  | "absent"
  /** download or parse failed: the previous rows for this location were kept */
  | "kept-previous"
  /** download or parse failed and there was nothing to keep */
  | "failed";

export interface LocationResult {
  readonly feed: FeedName;
  readonly location: string;
  readonly outcome: LocationOutcome;
  readonly records: number;
  readonly vulnerabilities: number;
  readonly skipped: number;
  readonly notAffected: number;
  /** The first few reasons records were skipped. */
  readonly skipReasons: readonly string[];
  readonly error?: string;
}

export interface UpdateResult {
  readonly path: string;
  /** False when nothing could be updated and the previous database was left untouched. */
  readonly replaced: boolean;
  readonly results: readonly LocationResult[];
  readonly failures: readonly LocationResult[];
  /** Metadata of the database now in place (undefined when none exists). */
  readonly metadata: DatabaseMetadata | undefined;
}

/** Paths are stored absolute so that later updates find them from any directory. */
function normaliseLocation(loc: string, cwd: string): string {
  if (isUrl(loc) || loc.startsWith("file://")) return loc;
  return isAbsolute(loc) ? loc : resolve(cwd, loc);
}

function openPrevious(path: string, progress: ProgressListener | undefined): VulnDatabase | undefined {
  try {
    return VulnDatabase.open(path);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    progress?.warn?.(`ignoring the existing database (${oneLine(e)}): rebuilding every feed`);
    return undefined;
  }
}

function removeStaleTemps(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  for (const name of readdirSync(dir)) {
    if (!/^\.(vulndb\.sqlite\..*\.tmp(-wal|-shm|-journal)?|feed-.*\.download)$/.test(name)) continue;
    try {
      if (statSync(join(dir, name)).mtimeMs < dayAgo) rmSync(join(dir, name), { force: true });
    } catch {
      // raced with its owner
    }
  }
}

/**
 * Build a new database from the configured feeds and atomically replace the old
 * one. Per feed location: an unchanged location keeps its rows; a location whose
 * download or parsing fails keeps its previous rows (and is reported); invalid
 * records are skipped and counted. If nothing at all could be updated, the old
 * file is left untouched.
 */
export async function updateDatabase(opts: UpdateOptions): Promise<UpdateResult> {
  const cwd = opts.cwd ?? process.cwd();
  const progress = opts.progress;
  try {
    mkdirSync(opts.dbDir, { recursive: true });
  } catch (e) {
    throw new OcipatchError("IO", `cannot create database directory ${opts.dbDir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  removeStaleTemps(opts.dbDir);
  const target = databasePath(opts.dbDir);
  const prev = openPrevious(target, progress);
  const prevFeeds: StoredFeed[] = prev?.feeds() ?? [];

  // What to refresh, from where.
  const plan = new Map<FeedName, string[]>();
  const given = Object.entries(opts.locations ?? {}).filter(([, l]) => l && l.length > 0);
  if (given.length > 0) {
    for (const [name, locs] of given) {
      plan.set(feedByName(name).name, [...new Set(locs!.map((l) => normaliseLocation(l, cwd)))]);
    }
  } else {
    const names =
      opts.feeds ??
      (prevFeeds.length > 0
        ? [...new Set(prevFeeds.map((f) => f.feed))]
        : FEED_NAMES.filter((n) => FEEDS[n].enabledByDefault));
    for (const name of names) {
      const recorded = prevFeeds.filter((f) => f.feed === name).map((f) => f.location);
      plan.set(name, recorded.length > 0 ? recorded : [...FEEDS[name].defaultLocations]);
    }
  }

  const builder = DatabaseBuilder.create(opts.dbDir, `ocipatch ${VERSION}`);
  const results: LocationResult[] = [];
  let progressed = false;
  try {
    if (prev) builder.attachPrevious(prev.path);
    const stateOf = (f: StoredFeed): FeedRow => ({
      feed: f.feed,
      location: f.location,
      checkedAt: f.checkedAt,
      importedAt: f.importedAt,
      etag: f.etag,
      lastModified: f.lastModified,
      sha256: f.sha256,
      size: f.size,
      mtimeMs: f.mtimeMs,
      skipped: f.skipped,
      notAffected: f.notAffected,
      status: f.status,
      message: f.message,
    });
    // Feeds not being refreshed are carried over as they are.
    for (const f of prevFeeds) {
      if (!plan.has(f.feed)) builder.copyFeed(f.id, stateOf(f));
    }
    for (const [name, locations] of plan) {
      const def = FEEDS[name];
      progress?.phase?.(`Updating ${name} (${def.title})`, locations.length);
      for (const location of locations) {
        const shown = displayLocation(location);
        const old = prevFeeds.find((f) => f.feed === name && f.location === location);
        const now = new Date().toISOString();
        const fail = (message: string): void => {
          if (old) {
            const c = builder.copyFeed(old.id, { ...stateOf(old), status: "error", message });
            results.push({
              feed: name,
              location,
              outcome: "kept-previous",
              records: c.records,
              vulnerabilities: c.vulnerabilities,
              skipped: old.skipped,
              notAffected: old.notAffected,
              skipReasons: [],
              error: message,
            });
          } else {
            builder.recordFeed({
              feed: name,
              location,
              skipped: 0,
              notAffected: 0,
              status: "error",
              message,
            });
            results.push({
              feed: name,
              location,
              outcome: "failed",
              records: 0,
              vulnerabilities: 0,
              skipped: 0,
              notAffected: 0,
              skipReasons: [],
              error: message,
            });
          }
          progress?.warn?.(`${name}: ${message}${old ? "; kept the previous data" : ""}`);
        };
        let fetched: Awaited<ReturnType<typeof fetchFeedLocation>>;
        try {
          progress?.info?.(`${name}: checking ${shown}`);
          fetched = await fetchFeedLocation(location, old, {
            ...opts.fetch,
            tmpDir: opts.dbDir,
            force: opts.force ?? false,
            cwd,
          });
        } catch (e) {
          fail(oneLine(e));
          continue;
        }
        if (fetched.kind === "not-modified" && old) {
          const c = builder.copyFeed(old.id, {
            ...stateOf(old),
            checkedAt: now,
            status: "ok",
            message: old.message,
          });
          results.push({
            feed: name,
            location,
            outcome: "unchanged",
            records: c.records,
            vulnerabilities: c.vulnerabilities,
            skipped: old.skipped,
            notAffected: old.notAffected,
            skipReasons: [],
          });
          progressed = true;
          progress?.info?.(`${name}: ${shown} not modified`);
          continue;
        }
        if (fetched.kind === "missing" || fetched.kind === "not-modified") {
          const optional = def.defaultsMayBeMissing && def.defaultLocations.includes(location);
          if (fetched.kind === "missing" && optional) {
            builder.recordFeed({
              feed: name,
              location,
              checkedAt: now,
              skipped: 0,
              notAffected: 0,
              status: "ok",
              message: "not published",
            });
            results.push({
              feed: name,
              location,
              outcome: "absent",
              records: 0,
              vulnerabilities: 0,
              skipped: 0,
              notAffected: 0,
              skipReasons: [],
            });
            progressed = true;
            continue;
          }
          fail(
            fetched.kind === "missing" ? `${fetched.message}` : `${shown}: not modified but no previous data`,
          );
          continue;
        }
        const writer = builder.beginFeed(name, location);
        const skips = new SkipLog();
        let notAffected = 0;
        try {
          await def.parse(
            { path: fetched.path, location: shown },
            {
              add: (r) => writer.add(r),
              skip: (reason) => skips.add(reason),
              notAffected: () => {
                notAffected++;
              },
            },
          );
          writer.commit();
        } catch (e) {
          writer.rollback();
          await fetched.cleanup();
          fail(oneLine(e));
          continue;
        }
        await fetched.cleanup();
        const counts = builder.finishCounts(writer.feedId);
        const message =
          skips.count > 0
            ? `skipped ${skips.count} invalid record(s), e.g. ${skips.first.join(" | ")}`
            : undefined;
        builder.updateFeedState(writer.feedId, {
          feed: name,
          location,
          checkedAt: now,
          importedAt: now,
          etag: fetched.etag,
          lastModified: fetched.lastModified,
          sha256: fetched.sha256,
          size: fetched.size,
          mtimeMs: fetched.mtimeMs,
          skipped: skips.count,
          notAffected,
          status: "ok",
          message,
        });
        results.push({
          feed: name,
          location,
          outcome: "imported",
          records: counts.records,
          vulnerabilities: counts.vulnerabilities,
          skipped: skips.count,
          notAffected,
          skipReasons: skips.first,
        });
        progressed = true;
        if (skips.count > 0) {
          progress?.warn?.(
            `${name}: ${shown}: skipped ${skips.count} invalid record(s), e.g. ${skips.first[0]}`,
          );
        }
      }
    }
    prev?.close();
    if (!progressed && prev) {
      builder.abort();
    } else if (!progressed && results.every((r) => r.outcome === "failed") && results.length > 0) {
      builder.abort();
    } else {
      builder.finish(target);
    }
  } catch (e) {
    prev?.close();
    builder.abort();
    throw e;
  }
  let metadata: DatabaseMetadata | undefined;
  try {
    const db = VulnDatabase.open(target);
    metadata = db.metadata();
    db.close();
  } catch {
    metadata = undefined;
  }
  const failures = results.filter((r) => r.outcome === "failed" || r.outcome === "kept-previous");
  return { path: target, replaced: progressed, results, failures, metadata };
}
