/**
 * Domain types of the vulnerability database: what the feeds say about which
 * source package versions of which distribution release are affected.
 */

/** Normalised severity, the scale grype and trivy use (Negligible = Debian's "unimportant"). */
export type Severity = "Critical" | "High" | "Medium" | "Low" | "Negligible" | "Unknown";

/** Most severe first. */
export const SEVERITIES: readonly Severity[] = ["Critical", "High", "Medium", "Low", "Negligible", "Unknown"];

/**
 * Whether a fix is available (grype's vocabulary):
 * - `fixed`: a fixed version newer than the installed one is published in the distro's public archive;
 * - `not-fixed`: vulnerable, no fix published (yet), or a fix only in a subscription channel (Ubuntu Pro);
 * - `wont-fix`: the distribution decided not to fix it (tracker `<ignored>`, end-of-life);
 * - `unknown`: the feed does not know yet (tracker `undetermined`).
 */
export type FixState = "fixed" | "not-fixed" | "wont-fix" | "unknown";

/** The feeds ocipatch knows. */
export type FeedName = "debian" | "ubuntu" | "osv" | "alpine" | "wolfi";

export const FEED_NAMES: readonly FeedName[] = ["debian", "ubuntu", "osv", "alpine", "wolfi"];

/**
 * A distribution release as the database keys it: `debian:bookworm`, `ubuntu:22.04`, `alpine:3.21`,
 * `alpine:edge`, `wolfi:rolling` (Wolfi has no releases). Each namespace has one version scheme: its
 * package format's (`PackageBackend.namespaces`).
 */
export type Namespace = string;

/** How a stored record decides whether an installed version is affected. */
export type AffectedStatus =
  /** affected from `introduced` (or always) up to, excluding, `fixed`. */
  | "fixed"
  /** affected from `introduced` (or always) up to and including `lastAffected`, no fix named. */
  | "last-affected"
  /** affected, no fix yet (tracker `open`, OSV range without an end). */
  | "open"
  /** affected, the distribution will not fix it. */
  | "wont-fix"
  /** the tracker has not determined whether/how it is affected. */
  | "undetermined"
  /** affected exactly in the listed `versions` (OSV `versions` without ranges). */
  | "exact";

/** One statement of a feed: vulnerability `vulnId` affects `package` in `namespace` like this. */
export interface AffectedRecord {
  readonly namespace: Namespace;
  /** Source package (Debian/Ubuntu) or origin package (Alpine). */
  readonly package: string;
  /** Primary ID: the CVE when the record is about one CVE, else the advisory ID (DSA-, USN-, ...). */
  readonly vulnId: string;
  /** The feed record's own ID when it differs (UBUNTU-CVE-..., DSA-...), and other aliases. */
  readonly aliases: readonly string[];
  readonly status: AffectedStatus;
  readonly introduced?: string | undefined;
  readonly fixed?: string | undefined;
  readonly lastAffected?: string | undefined;
  readonly versions?: readonly string[] | undefined;
  /** Raw urgency/priority as the feed spells it (`low**`, `unimportant`, `end-of-life`, `medium`). */
  readonly urgency?: string | undefined;
  readonly severity: Severity;
  /**
   * Not the public archive: the fix (or record) comes from a subscription channel such as
   * Ubuntu Pro / ESM (`ubuntu-pro`, `ubuntu-pro-fips`, ...). Undefined = public archive.
   */
  readonly channel?: string | undefined;
  /** Short remarks (tracker `nodsa` text, Pro availability...). */
  readonly notes?: string | undefined;
  /** First line of the description, shortened. */
  readonly title?: string | undefined;
}

/** What one feed location contributed to the database, and how it was last fetched. */
export interface FeedState {
  readonly feed: FeedName;
  /** URL or path as configured. */
  readonly location: string;
  /** Last time the location was checked successfully (ISO 8601). */
  readonly checkedAt: string | undefined;
  /** Last time the content changed and was imported (ISO 8601). */
  readonly importedAt: string | undefined;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  readonly sha256: string | undefined;
  readonly size: number | undefined;
  /** Stored affected records. */
  readonly records: number;
  /** Distinct vulnerability IDs. */
  readonly vulnerabilities: number;
  /** Input records skipped because they failed validation. */
  readonly skipped: number;
  /** Entries that say "not affected" (tracker `fixed_version: "0"`, secdb `"0"`): not stored. */
  readonly notAffected: number;
  /** `ok`, or `error` when the last attempt failed and the previous data was kept. */
  readonly status: "ok" | "error";
  readonly message: string | undefined;
}

/** Metadata of a built database. */
export interface DatabaseMetadata {
  readonly path: string;
  readonly schemaVersion: number;
  readonly builtAt: string;
  readonly builtBy: string;
  readonly feeds: readonly FeedState[];
}
