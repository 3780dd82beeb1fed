import type { FixState, Severity } from "../vulndb/types.js";

export type { FixState, Severity };

/**
 * One vulnerability in one installed binary package. This is what the patch
 * planner consumes: `fixState === "fixed"` means `fixedVersion` (a SOURCE
 * version for Debian/Ubuntu, as the distro publishes it) is newer than the
 * installed version and available from the distro's public archive.
 */
export interface Finding {
  /** CVE when known, else the advisory/record id (DSA-, USN-, GHSA-, TEMP-...). */
  readonly id: string;
  /** Other ids of the same vulnerability (advisories, UBUNTU-CVE-..., related USNs). */
  readonly aliases: readonly string[];
  /** Binary package name as installed. */
  readonly package: string;
  readonly installedVersion: string;
  /** First version that fixes it (undefined when no public fix). */
  readonly fixedVersion: string | undefined;
  readonly fixState: FixState;
  readonly severity: Severity;
  /** Source package and its version (`InstalledPackage.sourceName`/`sourceVersion`). */
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly architecture: string;
  /** Where the statement comes from: feed names (`debian`, `ubuntu`, `osv`, `alpine`, `wolfi`) or `grype`/`trivy`/`copa`. */
  readonly dataSource: string;
  /** The release the data is about (`debian:bookworm`), when matched by ocipatch. */
  readonly namespace?: string | undefined;
  /** Raw urgency/priority (`low**`, `unimportant`, `end-of-life`, `medium`). */
  readonly urgency?: string | undefined;
  readonly notes?: string | undefined;
  readonly title?: string | undefined;
}

export interface ScanSummary {
  /** Unique vulnerability ids found. */
  readonly total: number;
  /** Unique ids with a fixed version newer than the installed one (fixState "fixed"). */
  readonly fixable: number;
  /** Number of findings (id × package). */
  readonly findings: number;
  /** Unique ids per severity (an id counts once, at its highest severity). */
  readonly bySeverity: Readonly<Record<Severity, number>>;
  /** Unique ids per fix state (an id counts once, at its most actionable state). */
  readonly byFixState: Readonly<Record<FixState, number>>;
}

/** What was scanned. */
export interface ScanTarget {
  readonly type: "image" | "inventory" | "report";
  /** Image reference as given. */
  readonly reference?: string | undefined;
  /** Manifest digest of the scanned image, when known. */
  readonly digest?: string | undefined;
  readonly platform?: string | undefined;
  /** For imported reports: the file, its format and the scanner that produced it. */
  readonly report?:
    | {
        readonly path: string;
        readonly format: "grype" | "trivy" | "copa";
        readonly scanner: string;
        readonly scannerVersion?: string | undefined;
        /** What the importer read and skipped. */
        readonly counts?: ImportCounts | undefined;
      }
    | undefined;
}

export interface ScanOs {
  readonly id: string;
  readonly versionId: string | undefined;
  readonly codename: string | undefined;
  readonly prettyName: string | undefined;
}

export interface ScanDatabaseInfo {
  readonly path: string;
  readonly schemaVersion: number;
  readonly builtAt: string;
  readonly feeds: ReadonlyArray<{
    readonly feed: string;
    readonly location: string;
    readonly checkedAt: string | undefined;
    readonly records: number;
  }>;
}

export const SCAN_SCHEMA_VERSION = "1.0";

export interface ScanResult {
  /** Version of this JSON shape (docs/scan-json-schema.md). */
  readonly schemaVersion: typeof SCAN_SCHEMA_VERSION;
  readonly tool: { readonly name: "ocipatch"; readonly version: string };
  readonly createdAt: string;
  readonly target: ScanTarget;
  readonly os: ScanOs | undefined;
  /** The release the image was matched against (`debian:bullseye`), undefined when unsupported. */
  readonly namespace: string | undefined;
  readonly db: ScanDatabaseInfo | undefined;
  /** Number of installed packages considered (undefined for imported reports). */
  readonly packages: number | undefined;
  readonly findings: readonly Finding[];
  readonly summary: ScanSummary;
  readonly warnings: readonly string[];
}

/** What an importer found besides the findings. */
export interface ImportCounts {
  /** Matches/vulnerabilities in the report. */
  entries: number;
  /** Skipped because they are about application packages (python, npm, jar...). */
  nonOs: number;
  /** Skipped because the scanner says the package is not affected. */
  notAffected: number;
  /** Duplicates of another entry (same id, package, version, architecture), e.g. several paths. */
  duplicates: number;
  /** Entries that failed validation. */
  invalid: number;
}
