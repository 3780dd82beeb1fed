import { existsSync } from "node:fs";
import { isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import { displayLocation } from "./fetch.js";
import { databasePath } from "./location.js";
import { VulnDatabase } from "./store/database.js";
import type { DatabaseMetadata, FeedName } from "./types.js";
import type { UpdateOptions } from "./update.js";

/** A database older than this is stale: `db status` warns and scans update it first. */
export const STALE_AFTER_MS = 3 * 24 * 3600 * 1000;

interface FeedSummary {
  readonly feed: FeedName;
  readonly locations: number;
  readonly records: number;
  readonly vulnerabilities: number;
  readonly skipped: number;
  /** Oldest successful check among the feed's locations. */
  readonly checkedAt: string | undefined;
  readonly errors: readonly string[];
}

export interface DatabaseStatus {
  readonly path: string;
  readonly exists: boolean;
  readonly metadata: DatabaseMetadata | undefined;
  /** Age of the oldest feed data, in milliseconds. */
  readonly ageMs: number | undefined;
  readonly stale: boolean;
  readonly feeds: readonly FeedSummary[];
  readonly namespaces: ReadonlyArray<{ namespace: string; records: number }>;
  readonly warnings: readonly string[];
}

function ageOf(meta: DatabaseMetadata, now: number): number | undefined {
  const times = meta.feeds
    .map((f) => Date.parse(f.checkedAt ?? meta.builtAt))
    .filter((t) => !Number.isNaN(t));
  if (times.length === 0) {
    const built = Date.parse(meta.builtAt);
    return Number.isNaN(built) ? undefined : now - built;
  }
  return now - Math.min(...times);
}

export function formatAge(ms: number): string {
  const h = ms / 3600_000;
  if (h < 1) return `${Math.max(0, Math.round(ms / 60_000))} min`;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} days`;
}

/** Read the database's metadata without changing anything. */
export function databaseStatus(dbDir: string, now = Date.now()): DatabaseStatus {
  const path = databasePath(dbDir);
  if (!existsSync(path)) {
    return {
      path,
      exists: false,
      metadata: undefined,
      ageMs: undefined,
      stale: true,
      feeds: [],
      namespaces: [],
      warnings: [`no vulnerability database at ${path}: run "ocipatch db update"`],
    };
  }
  const db = VulnDatabase.open(path);
  try {
    const raw = db.metadata();
    // URLs may carry credentials: show them without.
    const metadata = {
      ...raw,
      feeds: raw.feeds.map((f) => ({ ...f, location: displayLocation(f.location) })),
    };
    const ageMs = ageOf(metadata, now);
    const feeds: FeedSummary[] = [];
    for (const name of [...new Set(metadata.feeds.map((f) => f.feed))]) {
      const rows = metadata.feeds.filter((f) => f.feed === name);
      const checked = rows.map((r) => r.checkedAt).filter((c): c is string => c !== undefined);
      feeds.push({
        feed: name,
        locations: rows.length,
        records: rows.reduce((n, r) => n + r.records, 0),
        vulnerabilities: rows.reduce((n, r) => n + r.vulnerabilities, 0),
        skipped: rows.reduce((n, r) => n + r.skipped, 0),
        checkedAt: checked.sort()[0],
        errors: rows
          .filter((r) => r.status === "error")
          .map((r) => `${r.location}: ${r.message ?? "failed"}`),
      });
    }
    const stale = ageMs === undefined || ageMs > STALE_AFTER_MS;
    const warnings: string[] = [];
    if (stale && ageMs !== undefined) {
      warnings.push(`the vulnerability database is ${formatAge(ageMs)} old: run "ocipatch db update"`);
    }
    for (const f of feeds) for (const e of f.errors) warnings.push(`${f.feed}: last update failed: ${e}`);
    return { path, exists: true, metadata, ageMs, stale, feeds, namespaces: db.namespaces(), warnings };
  } finally {
    db.close();
  }
}

interface EnsureOptions extends Omit<UpdateOptions, "locations" | "feeds" | "force"> {
  /** Never touch the network: use the database as it is (error when missing). */
  readonly offline?: boolean;
  /** Do not update even when missing or stale. */
  readonly skipUpdate?: boolean;
  readonly maxAgeMs?: number;
}

/**
 * Open the database for a scan, updating it first when it is missing or stale
 * (unless offline/skipUpdate). A failed update of an existing database only warns.
 */
export async function openDatabaseForScan(
  opts: EnsureOptions,
): Promise<{ db: VulnDatabase; warnings: string[] }> {
  const warnings: string[] = [];
  const path = databasePath(opts.dbDir);
  const exists = existsSync(path);
  const status = exists ? databaseStatus(opts.dbDir) : undefined;
  const stale = !status || status.ageMs === undefined || status.ageMs > (opts.maxAgeMs ?? STALE_AFTER_MS);
  if (stale && !opts.offline && !opts.skipUpdate) {
    try {
      // the feed readers (zip, streaming JSON) are loaded only when an update runs
      const { updateDatabase } = await import("./update.js");
      const r = await updateDatabase(opts);
      for (const f of r.failures) warnings.push(`vulnerability data ${f.feed} (${f.location}): ${f.error}`);
    } catch (e) {
      if (!exists) throw e;
      warnings.push(`could not update the vulnerability database (${oneLine(e)}); using the existing one`);
    }
  } else if (stale && status) {
    warnings.push(
      `the vulnerability database is ${status.ageMs === undefined ? "of unknown age" : `${formatAge(status.ageMs)} old`} (not updated: ${opts.offline ? "offline" : "updates skipped"})`,
    );
  }
  try {
    return { db: VulnDatabase.open(path), warnings };
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) {
      throw new OcipatchError(
        "NOT_FOUND",
        `no vulnerability database in ${opts.dbDir}: run "ocipatch db update" (offline: from local files, NAME=PATH)`,
        { cause: e, details: { option: "sources" } },
      );
    }
    throw e;
  }
}
