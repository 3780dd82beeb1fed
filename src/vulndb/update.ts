import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import type { ProgressListener } from "../util/progress.js";
import { VERSION } from "../version.js";
import { displayLocation, type FetchOptions, type FetchOutcome, fetchFeedLocation, isUrl } from "./fetch.js";
import { databasePath } from "./location.js";
import { FEEDS, feedByName } from "./sources/index.js";
import { SkipLog } from "./sources/types.js";
import { DatabaseBuilder, type FeedRow } from "./store/builder.js";
import { markChecked, type StoredFeed, VulnDatabase } from "./store/database.js";
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

type LocationOutcome =
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

interface LocationResult {
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
  /**
   * True when a new database file was built and swapped in; false when nothing had
   * changed (the check times and any failures were recorded in place) or nothing exists.
   */
  readonly rebuilt: boolean;
  readonly results: readonly LocationResult[];
  readonly failures: readonly LocationResult[];
  /** Metadata of the database now in place (undefined when none exists). */
  readonly metadata: DatabaseMetadata | undefined;
}

interface Checked {
  readonly feed: FeedName;
  readonly location: string;
  readonly old: StoredFeed | undefined;
  readonly fetched: FetchOutcome | undefined;
  readonly error: string | undefined;
}

function stateOf(f: StoredFeed): FeedRow {
  return {
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
  };
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

  // Phase 1: check every planned location (conditional downloads into temporary files).
  const checked: Checked[] = [];
  try {
    for (const [name, locations] of plan) {
      const def = FEEDS[name];
      progress?.phase?.(`Checking ${name} (${def.title})`, locations.length);
      for (const location of locations) {
        const old = prevFeeds.find((f) => f.feed === name && f.location === location);
        const shown = displayLocation(location);
        progress?.info?.(`${name}: checking ${shown}`);
        let fetched: FetchOutcome | undefined;
        let error: string | undefined;
        try {
          fetched = await fetchFeedLocation(location, old, {
            ...opts.fetch,
            tmpDir: opts.dbDir,
            force: opts.force ?? false,
            cwd,
          });
        } catch (e) {
          error = oneLine(e);
        }
        if (fetched?.kind === "missing") {
          const optional = def.defaultsMayBeMissing && def.defaultLocations.includes(location);
          if (!optional) {
            error = fetched.message;
            fetched = undefined;
          }
        } else if (fetched?.kind === "not-modified" && !old) {
          error = `${shown}: not modified but no previous data`;
          fetched = undefined;
        }
        checked.push({ feed: name, location, old, fetched, error });
      }
    }
  } catch (e) {
    await Promise.all(checked.map((c) => (c.fetched?.kind === "content" ? c.fetched.cleanup() : undefined)));
    prev?.close();
    throw e;
  }

  const now = new Date().toISOString();
  const nothingNew = checked.every(
    (c) =>
      c.old !== undefined &&
      (c.error !== undefined ||
        c.fetched?.kind === "not-modified" ||
        (c.fetched?.kind === "missing" && c.old.records === 0)),
  );
  if (prev && nothingNew) {
    // Nothing changed anywhere: record the check (and any failure) in place, no rebuild.
    prev.close();
    markChecked(
      target,
      checked.map((c) => ({
        id: c.old!.id,
        checkedAt: c.error === undefined ? now : undefined,
        status: c.error === undefined ? "ok" : "error",
        message: c.error ?? (c.fetched?.kind === "missing" ? "not published" : c.old!.message),
      })),
    );
    const results = checked.map((c): LocationResult => {
      if (c.error !== undefined) progress?.warn?.(`${c.feed}: ${c.error}; kept the previous data`);
      else progress?.info?.(`${c.feed}: ${displayLocation(c.location)} not modified`);
      return {
        feed: c.feed,
        location: c.location,
        outcome:
          c.error !== undefined ? "kept-previous" : c.fetched?.kind === "missing" ? "absent" : "unchanged",
        records: c.old!.records,
        vulnerabilities: c.old!.vulnerabilities,
        skipped: c.old!.skipped,
        notAffected: c.old!.notAffected,
        skipReasons: [],
        error: c.error,
      };
    });
    return finishResult(target, results, false);
  }

  // Phase 2: build a new file from the new content and the previous rows, then swap it in.
  const builder = DatabaseBuilder.create(opts.dbDir, `ocipatch ${VERSION}`);
  const results: LocationResult[] = [];
  try {
    if (prev) builder.attachPrevious(prev.path);
    // Feeds not being refreshed are carried over as they are.
    for (const f of prevFeeds) {
      if (!plan.has(f.feed)) builder.copyFeed(f.id, stateOf(f));
    }
    for (const c of checked) {
      const { feed: name, location, old } = c;
      const def = FEEDS[name];
      const shown = displayLocation(location);
      const fail = (message: string): void => {
        if (old) {
          const n = builder.copyFeed(old.id, { ...stateOf(old), status: "error", message });
          results.push({
            feed: name,
            location,
            outcome: "kept-previous",
            records: n.records,
            vulnerabilities: n.vulnerabilities,
            skipped: old.skipped,
            notAffected: old.notAffected,
            skipReasons: [],
            error: message,
          });
        } else {
          builder.recordFeed({ feed: name, location, skipped: 0, notAffected: 0, status: "error", message });
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
      const fetched = c.fetched;
      if (c.error !== undefined || !fetched) {
        fail(c.error ?? "no content");
        continue;
      }
      if (fetched.kind === "not-modified") {
        const n = builder.copyFeed(old!.id, { ...stateOf(old!), checkedAt: now, status: "ok" });
        results.push({
          feed: name,
          location,
          outcome: "unchanged",
          records: n.records,
          vulnerabilities: n.vulnerabilities,
          skipped: old!.skipped,
          notAffected: old!.notAffected,
          skipReasons: [],
        });
        progress?.info?.(`${name}: ${shown} not modified`);
        continue;
      }
      if (fetched.kind === "missing") {
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
        continue;
      }
      progress?.info?.(`${name}: importing ${shown}`);
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
      if (skips.count > 0) {
        progress?.warn?.(
          `${name}: ${shown}: skipped ${skips.count} invalid record(s), e.g. ${skips.first[0]}`,
        );
      }
    }
    prev?.close();
    if (!prev && results.length > 0 && results.every((r) => r.outcome === "failed")) {
      // nothing to keep and nothing new: do not create an empty database
      builder.abort();
      return finishResult(target, results, false);
    }
    builder.finish(target);
  } catch (e) {
    prev?.close();
    builder.abort();
    await Promise.all(checked.map((c) => (c.fetched?.kind === "content" ? c.fetched.cleanup() : undefined)));
    throw e;
  }
  return finishResult(target, results, true);
}

function finishResult(target: string, results: LocationResult[], rebuilt: boolean): UpdateResult {
  let metadata: DatabaseMetadata | undefined;
  try {
    const db = VulnDatabase.open(target);
    metadata = db.metadata();
    db.close();
  } catch {
    metadata = undefined;
  }
  const failures = results.filter((r) => r.outcome === "failed" || r.outcome === "kept-previous");
  return { path: target, rebuilt, results, failures, metadata };
}
