/**
 * SQLite schema of the vulnerability database. Bump SCHEMA_VERSION on any
 * incompatible change: an update then rebuilds every feed instead of copying
 * rows from the previous file.
 */
export const SCHEMA_VERSION = 1;

export const DB_FILE_NAME = "vulndb.sqlite";

export const CREATE_TABLES = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE schema_version (
  version    INTEGER NOT NULL,
  applied_at TEXT NOT NULL
);
CREATE TABLE feeds (
  id              INTEGER PRIMARY KEY,
  feed            TEXT NOT NULL,
  location        TEXT NOT NULL,
  checked_at      TEXT,
  imported_at     TEXT,
  etag            TEXT,
  last_modified   TEXT,
  sha256          TEXT,
  size            INTEGER,
  mtime_ms        REAL,
  records         INTEGER NOT NULL DEFAULT 0,
  vulnerabilities INTEGER NOT NULL DEFAULT 0,
  skipped         INTEGER NOT NULL DEFAULT 0,
  not_affected    INTEGER NOT NULL DEFAULT 0,
  status          TEXT NOT NULL,
  message         TEXT,
  UNIQUE (feed, location)
);
CREATE TABLE affected (
  feed_id       INTEGER NOT NULL REFERENCES feeds(id),
  namespace     TEXT NOT NULL,
  package       TEXT NOT NULL,
  vuln_id       TEXT NOT NULL,
  aliases       TEXT,
  status        TEXT NOT NULL,
  introduced    TEXT,
  fixed         TEXT,
  last_affected TEXT,
  versions      TEXT,
  urgency       TEXT,
  severity      TEXT NOT NULL,
  channel       TEXT,
  notes         TEXT,
  title         TEXT
);
`;

/** Created after the bulk load (faster than maintaining it row by row). */
export const CREATE_INDEXES = `
CREATE INDEX affected_by_package ON affected (namespace, package);
CREATE INDEX affected_by_feed ON affected (feed_id);
`;

export const AFFECTED_COLUMNS =
  "namespace, package, vuln_id, aliases, status, introduced, fixed, last_affected, versions, urgency, severity, channel, notes, title";
