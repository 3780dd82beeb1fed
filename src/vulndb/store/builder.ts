import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { OcipatchError } from "../../errors.js";
import { openSqlite, type RunResult, type SqliteDatabase, type Statement } from "../../util/sqlite.js";
import type { AffectedRecord, FeedName } from "../types.js";
import { AFFECTED_COLUMNS, CREATE_INDEXES, CREATE_TABLES, DB_FILE_NAME, SCHEMA_VERSION } from "./schema.js";

/** Fetch/import bookkeeping of one feed location, written to the `feeds` table. */
export interface FeedRow {
  feed: FeedName;
  location: string;
  checkedAt?: string | undefined;
  importedAt?: string | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
  sha256?: string | undefined;
  size?: number | undefined;
  mtimeMs?: number | undefined;
  skipped: number;
  notAffected: number;
  status: "ok" | "error";
  message?: string | undefined;
}

/** Counts of what a feed import wrote. */
interface FeedCounts {
  records: number;
  vulnerabilities: number;
}

/**
 * Writes a new database into a temporary file next to the target, then
 * replaces the target atomically (rename). Readers of the old file are never
 * disturbed and a failed build leaves the old file untouched.
 */
export class DatabaseBuilder {
  readonly tempPath: string;
  private readonly db: SqliteDatabase;
  private readonly insert: Statement;
  private attached = false;
  private done = false;

  private constructor(
    readonly dir: string,
    readonly builtBy: string,
  ) {
    this.tempPath = join(dir, `.${DB_FILE_NAME}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
      this.db = openSqlite(this.tempPath);
    } catch (e) {
      throw new OcipatchError(
        "IO",
        `cannot create the vulnerability database in ${dir}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    // A private file nobody reads until it is complete: no durability needed while building
    // (the finished file is fsynced before the rename). The journal stays in memory so that
    // a failed feed can still be rolled back to its savepoint.
    this.db.pragma("journal_mode = MEMORY");
    this.db.pragma("synchronous = OFF");
    this.db.pragma("locking_mode = EXCLUSIVE");
    this.db.pragma("temp_store = MEMORY");
    this.db.pragma("cache_size = -8000");
    this.db.exec(CREATE_TABLES);
    this.db
      .prepare("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)")
      .run(SCHEMA_VERSION, new Date().toISOString());
    this.insert = this.db.prepare(
      `INSERT INTO affected (feed_id, ${AFFECTED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  static create(dir: string, builtBy: string): DatabaseBuilder {
    return new DatabaseBuilder(dir, builtBy);
  }

  /** Make a previous database's rows available for copying (schema must match). */
  attachPrevious(path: string): void {
    this.db.prepare("ATTACH DATABASE ? AS prev").run(path);
    this.attached = true;
  }

  /** Start importing one feed location; everything it adds is one transaction. */
  beginFeed(feed: FeedName, location: string): FeedWriter {
    const id = Number(
      this.db.prepare("INSERT INTO feeds (feed, location, status) VALUES (?, ?, 'ok')").run(feed, location)
        .lastInsertRowid,
    );
    this.db.exec("SAVEPOINT feed");
    return new FeedWriter(this.db, this.insert, id);
  }

  /** Copy a feed location's rows and state from the attached previous database. */
  copyFeed(prevFeedId: number, state: FeedRow): FeedCounts {
    if (!this.attached) throw new OcipatchError("INTERNAL", "no previous database attached");
    const id = Number(this.insertFeedRow(state).lastInsertRowid);
    const cols = AFFECTED_COLUMNS;
    this.db
      .prepare(
        `INSERT INTO affected (feed_id, ${cols}) SELECT ?, ${cols} FROM prev.affected WHERE feed_id = ?`,
      )
      .run(id, prevFeedId);
    return this.finishCounts(id);
  }

  /** Record a feed location that contributed nothing (e.g. a failed first download). */
  recordFeed(state: FeedRow): void {
    this.insertFeedRow(state);
  }

  private insertFeedRow(s: FeedRow): RunResult {
    return this.db
      .prepare(
        `INSERT INTO feeds (feed, location, checked_at, imported_at, etag, last_modified, sha256, size, mtime_ms,
           skipped, not_affected, status, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        s.feed,
        s.location,
        s.checkedAt ?? null,
        s.importedAt ?? null,
        s.etag ?? null,
        s.lastModified ?? null,
        s.sha256 ?? null,
        s.size ?? null,
        s.mtimeMs ?? null,
        s.skipped,
        s.notAffected,
        s.status,
        s.message ?? null,
      );
  }

  /** Fill in the record counts of a feed row. */
  finishCounts(feedId: number): FeedCounts {
    const c = this.db
      .prepare("SELECT count(*) AS records, count(DISTINCT vuln_id) AS vulns FROM affected WHERE feed_id = ?")
      .get(feedId) as { records: number; vulns: number };
    this.db
      .prepare("UPDATE feeds SET records = ?, vulnerabilities = ? WHERE id = ?")
      .run(c.records, c.vulns, feedId);
    return { records: c.records, vulnerabilities: c.vulns };
  }

  updateFeedState(feedId: number, s: FeedRow): void {
    this.db
      .prepare(
        `UPDATE feeds SET checked_at = ?, imported_at = ?, etag = ?, last_modified = ?, sha256 = ?, size = ?,
           mtime_ms = ?, skipped = ?, not_affected = ?, status = ?, message = ? WHERE id = ?`,
      )
      .run(
        s.checkedAt ?? null,
        s.importedAt ?? null,
        s.etag ?? null,
        s.lastModified ?? null,
        s.sha256 ?? null,
        s.size ?? null,
        s.mtimeMs ?? null,
        s.skipped,
        s.notAffected,
        s.status,
        s.message ?? null,
        feedId,
      );
  }

  /** Index, stamp, make self-contained and atomically move over `targetPath`. */
  finish(targetPath: string): void {
    const now = new Date().toISOString();
    const setMeta = this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    setMeta.run("schema_version", String(SCHEMA_VERSION));
    setMeta.run("built_at", now);
    setMeta.run("built_by", this.builtBy);
    this.db.exec(CREATE_INDEXES);
    if (this.attached) {
      this.db.exec("DETACH DATABASE prev");
      this.attached = false;
    }
    // Readers get a self-contained file in rollback-journal mode: it opens read-only anywhere
    // (a WAL file would need a writable -shm next to it).
    this.db.pragma("journal_mode = DELETE");
    // Give the exclusive lock back now: the binding frees the connection itself only once its
    // prepared statements are garbage-collected, and readers in this process open the file next.
    this.db.pragma("locking_mode = NORMAL");
    this.db.prepare("SELECT count(*) FROM meta").get();
    this.db.close();
    this.done = true;
    const fd = openSync(this.tempPath, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(this.tempPath, targetPath);
    } catch (e) {
      this.abort();
      throw new OcipatchError("IO", `cannot replace ${targetPath}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Throw the temporary file away. */
  abort(): void {
    if (!this.done) {
      try {
        this.db.close();
      } catch {
        // already closed
      }
      this.done = true;
    }
    for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(this.tempPath + suffix, { force: true });
  }
}

/** Adds one feed location's records inside a savepoint. */
class FeedWriter {
  records = 0;
  private closed = false;

  constructor(
    private readonly db: SqliteDatabase,
    private readonly insert: Statement,
    readonly feedId: number,
  ) {}

  add(r: AffectedRecord): void {
    this.insert.run(
      this.feedId,
      r.namespace,
      r.package,
      r.vulnId,
      r.aliases.length > 0 ? JSON.stringify(r.aliases) : null,
      r.status,
      r.introduced ?? null,
      r.fixed ?? null,
      r.lastAffected ?? null,
      r.versions && r.versions.length > 0 ? JSON.stringify(r.versions) : null,
      r.urgency ?? null,
      r.severity,
      r.channel ?? null,
      r.notes ?? null,
      r.title ?? null,
    );
    this.records++;
  }

  /** Keep what was added. */
  commit(): void {
    if (this.closed) return;
    this.db.exec("RELEASE feed");
    this.closed = true;
  }

  /** Drop everything added, and the feed row itself. */
  rollback(): void {
    if (this.closed) return;
    this.db.exec("ROLLBACK TO feed");
    this.db.exec("RELEASE feed");
    this.db.prepare("DELETE FROM feeds WHERE id = ?").run(this.feedId);
    this.closed = true;
  }
}
