import { existsSync } from "node:fs";
import { OcipatchError } from "../../errors.js";
import { openSqlite, type SqliteDatabase, type Statement } from "../../util/sqlite.js";
import { parseSeverityName } from "../severity.js";
import type {
  AffectedRecord,
  AffectedStatus,
  DatabaseMetadata,
  FeedName,
  FeedState,
  Namespace,
} from "../types.js";
import { AFFECTED_COLUMNS, SCHEMA_VERSION } from "./schema.js";

interface AffectedRow {
  feed: string;
  namespace: string;
  package: string;
  vuln_id: string;
  aliases: string | null;
  status: string;
  introduced: string | null;
  fixed: string | null;
  last_affected: string | null;
  versions: string | null;
  urgency: string | null;
  severity: string;
  channel: string | null;
  notes: string | null;
  title: string | null;
}

interface FeedDbRow {
  id: number;
  feed: string;
  location: string;
  checked_at: string | null;
  imported_at: string | null;
  etag: string | null;
  last_modified: string | null;
  sha256: string | null;
  size: number | null;
  mtime_ms: number | null;
  records: number;
  vulnerabilities: number;
  skipped: number;
  not_affected: number;
  status: string;
  message: string | null;
}

/** A stored record plus the feed it came from. */
export interface StoredRecord extends AffectedRecord {
  readonly feed: FeedName;
}

/** A feed row with its database id (for copying rows into a new build). */
export interface StoredFeed extends FeedState {
  readonly id: number;
  readonly mtimeMs: number | undefined;
}

const u = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** Read-only access to a built vulnerability database. */
export class VulnDatabase {
  private readonly byPackage: Statement;
  private readonly nsProbe: Statement;

  private constructor(
    readonly path: string,
    private readonly db: SqliteDatabase,
    readonly schemaVersion: number,
  ) {
    this.byPackage = db.prepare(
      `SELECT f.feed AS feed, ${AFFECTED_COLUMNS.split(", ")
        .map((c) => `a.${c}`)
        .join(
          ", ",
        )} FROM affected a JOIN feeds f ON f.id = a.feed_id WHERE a.namespace = ? AND a.package = ?`,
    );
    this.nsProbe = db.prepare("SELECT 1 FROM affected WHERE namespace = ? LIMIT 1");
  }

  /** Open a database file; throws NOT_FOUND when missing, INVALID_FORMAT when not ours or another schema. */
  static open(path: string, opts: { allowOtherSchema?: boolean } = {}): VulnDatabase {
    if (!existsSync(path)) throw new OcipatchError("NOT_FOUND", `no vulnerability database at ${path}`);
    let db: SqliteDatabase;
    let version: number;
    try {
      db = openSqlite(path, { readonly: true, fileMustExist: true });
      const row = db.prepare("SELECT max(version) AS v FROM schema_version").get() as { v: number | null };
      version = row.v ?? 0;
    } catch (e) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${path} is not an ocipatch vulnerability database: ${(e as Error).message}`,
        { cause: e },
      );
    }
    if (version !== SCHEMA_VERSION && !opts.allowOtherSchema) {
      db.close();
      throw new OcipatchError(
        "UNSUPPORTED",
        `vulnerability database ${path} has schema version ${version}, this ocipatch needs ${SCHEMA_VERSION}: run "ocipatch db update"`,
      );
    }
    return new VulnDatabase(path, db, version);
  }

  /** Every record about `pkg` in `namespace`. */
  recordsFor(namespace: Namespace, pkg: string): StoredRecord[] {
    const rows = this.byPackage.all(namespace, pkg) as AffectedRow[];
    return rows.map((r) => ({
      feed: r.feed as FeedName,
      namespace: r.namespace,
      package: r.package,
      vulnId: r.vuln_id,
      aliases: r.aliases ? (JSON.parse(r.aliases) as string[]) : [],
      status: r.status as AffectedStatus,
      introduced: u(r.introduced),
      fixed: u(r.fixed),
      lastAffected: u(r.last_affected),
      versions: r.versions ? (JSON.parse(r.versions) as string[]) : undefined,
      urgency: u(r.urgency),
      severity: parseSeverityName(r.severity),
      channel: u(r.channel),
      notes: u(r.notes),
      title: u(r.title),
    }));
  }

  /** Does any feed have data for this namespace? */
  hasNamespace(namespace: Namespace): boolean {
    return this.nsProbe.get(namespace) !== undefined;
  }

  /** Namespaces with their record counts. */
  namespaces(): Array<{ namespace: Namespace; records: number }> {
    return this.db
      .prepare("SELECT namespace, count(*) AS records FROM affected GROUP BY namespace ORDER BY namespace")
      .all() as Array<{ namespace: Namespace; records: number }>;
  }

  feeds(): StoredFeed[] {
    const rows = this.db.prepare("SELECT * FROM feeds ORDER BY feed, location").all() as FeedDbRow[];
    return rows.map((r) => ({
      id: r.id,
      feed: r.feed as FeedName,
      location: r.location,
      checkedAt: u(r.checked_at),
      importedAt: u(r.imported_at),
      etag: u(r.etag),
      lastModified: u(r.last_modified),
      sha256: u(r.sha256),
      size: u(r.size),
      mtimeMs: u(r.mtime_ms),
      records: r.records,
      vulnerabilities: r.vulnerabilities,
      skipped: r.skipped,
      notAffected: r.not_affected,
      status: r.status === "error" ? "error" : "ok",
      message: u(r.message),
    }));
  }

  metadata(): DatabaseMetadata {
    const meta = new Map(
      (this.db.prepare("SELECT key, value FROM meta").all() as Array<{ key: string; value: string }>).map(
        (r) => [r.key, r.value],
      ),
    );
    return {
      path: this.path,
      schemaVersion: this.schemaVersion,
      builtAt: meta.get("built_at") ?? "",
      builtBy: meta.get("built_by") ?? "",
      feeds: this.feeds().map(({ id: _id, mtimeMs: _m, ...f }) => f),
    };
  }

  close(): void {
    this.db.close();
  }
}

/**
 * Record a check of feed locations in place (nothing else changed): one small
 * transaction on the existing file, atomic through SQLite's own journal.
 */
export function markChecked(
  path: string,
  feeds: ReadonlyArray<{
    id: number;
    checkedAt: string | undefined;
    status: "ok" | "error";
    message: string | undefined;
  }>,
): void {
  const db = openSqlite(path, { fileMustExist: true });
  try {
    const stmt = db.prepare(
      "UPDATE feeds SET checked_at = coalesce(?, checked_at), status = ?, message = ? WHERE id = ?",
    );
    db.transaction(() => {
      for (const f of feeds) stmt.run(f.checkedAt ?? null, f.status, f.message ?? null, f.id);
    });
  } catch (e) {
    throw new OcipatchError("IO", `cannot update ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    db.close();
  }
}
