import { createRequire } from "node:module";

/**
 * The one place ocipatch touches an SQLite binding. It is libsql (a better-sqlite3-compatible
 * API whose native binaries ship inside npm packages, so `npm ci` compiles and downloads
 * nothing from outside the registry); the vulnerability store sees only these types.
 * The binding is loaded on first use, so commands that never open a database do not pay for it.
 */

/** Outcome of a statement that writes. */
export interface RunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A prepared statement with positional parameters. */
export interface Statement {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface SqliteDatabase {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  /** `PRAGMA <source>` (e.g. `journal_mode = MEMORY`). */
  pragma(source: string): void;
  /** Run `fn` inside one transaction (committed when it returns, rolled back when it throws). */
  transaction(fn: () => void): void;
  close(): void;
}

interface OpenOptions {
  readonly readonly?: boolean;
  /** Fail instead of creating a new file. */
  readonly fileMustExist?: boolean;
}

interface LibsqlDatabase {
  prepare(sql: string): Statement;
  exec(sql: string): unknown;
  pragma(source: string): unknown;
  transaction(fn: () => void): () => void;
  close(): unknown;
}
type LibsqlConstructor = new (path: string, opts?: Record<string, unknown>) => LibsqlDatabase;

let binding: LibsqlConstructor | undefined;

function load(): LibsqlConstructor {
  binding ??= createRequire(import.meta.url)("libsql") as LibsqlConstructor;
  return binding;
}

/**
 * libsql takes a call with ONE object argument as named parameters, and a Buffer or typed array
 * is an object: `run(blob)` would bind nothing and panic in the native code (statement.rs
 * `Option::unwrap()` on `None`, found when writing rpm's Packages table). Parameters are always
 * handed over as one array, which libsql binds positionally.
 */
function positional(s: Statement): Statement {
  return {
    run: (...params) => s.run(params.flat()),
    get: (...params) => s.get(params.flat()),
    all: (...params) => s.all(params.flat()),
  };
}

/** Open (or create) an SQLite database file. */
export function openSqlite(path: string, opts: OpenOptions = {}): SqliteDatabase {
  const Database = load();
  const db = new Database(path, {
    ...(opts.readonly ? { readonly: true } : {}),
    ...(opts.fileMustExist ? { fileMustExist: true } : {}),
  });
  return {
    prepare: (sql) => positional(db.prepare(sql)),
    exec: (sql) => {
      db.exec(sql);
    },
    pragma: (source) => {
      db.pragma(source);
    },
    transaction: (fn) => db.transaction(fn)(),
    close: () => {
      db.close();
    },
  };
}
