import type { AffectedRecord, FeedName } from "../types.js";

/** Fetched content of one feed location, on local disk. */
export interface FeedInput {
  /** A file, or a directory of files (OSV / secdb JSON), to read. */
  readonly path: string;
  /** The configured location (URL or path), for messages. */
  readonly location: string;
}

/** Where a parser puts what it reads. */
export interface RecordSink {
  add(record: AffectedRecord): void;
  /** An input record failed validation and was skipped. */
  skip(reason: string): void;
  /** An entry that says the package is not affected (not stored). */
  notAffected(): void;
}

/**
 * One vulnerability feed: its official locations and a parser for its format.
 * Parsers stream their input; a record that fails validation is skipped and
 * counted, while a broken document (truncated, not JSON, corrupt zip) throws
 * so that the previous data is kept.
 */
export interface FeedDefinition {
  readonly name: FeedName;
  readonly title: string;
  /** Official locations, used when the user configured none. */
  readonly defaultLocations: readonly string[];
  /** True when a default location may be absent (HTTP 404) without being an error. */
  readonly defaultsMayBeMissing: boolean;
  /** Updated by `db update` without arguments on a fresh database. */
  readonly enabledByDefault: boolean;
  parse(input: FeedInput, sink: RecordSink): Promise<void>;
}

/** Collects skip reasons for messages: the count plus the first few reasons. */
export class SkipLog {
  count = 0;
  readonly first: string[] = [];
  constructor(private readonly keep = 3) {}
  add(reason: string): void {
    this.count++;
    if (this.first.length < this.keep) this.first.push(reason);
  }
}

/** First line of a text, shortened to `max` characters. */
export function shorten(s: string | undefined, max = 160): string | undefined {
  if (!s) return undefined;
  const line = s.trim().split("\n")[0]?.trim() ?? "";
  if (line === "") return undefined;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
