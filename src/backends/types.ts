import type { RepositoryConfig } from "../config/repositories.js";
import type { Platform } from "../image/manifest.js";
import type { Compression } from "../image/media-types.js";
import type { BackendId, InstalledPackage, Inventory, PackageManager } from "../inventory/types.js";
import type { FinishedLayer } from "../patch/layer/layer-writer.js";
import type { Plan, PlanMode, SuiteKind, UpgradeTarget } from "../plan/types.js";
import type { FileSummarizer, LayeredFs } from "../rootfs/index.js";
import type { ProgressListener } from "../util/progress.js";

export type { BackendId, PackageManager };

/** The read-only image view a backend gets. */
export type BackendFiles = Pick<LayeredFs, "stat" | "lstat" | "readFile" | "readdir" | "description">;

/** What a backend read from an image's package database. */
export interface InventoryRead {
  readonly packages: InstalledPackage[];
  /** Non-fatal problems (malformed records...). */
  readonly warnings: string[];
}

/**
 * Everything distribution-specific about one package format. The pipeline (inventory, scan,
 * patch, reports, CLI) only talks to this; a new distribution is one folder under `backends/`
 * and one line in `registry.ts`.
 */
export interface PackageBackend {
  readonly id: BackendId;
  /** For messages: "Alpine apk", "RPM". */
  readonly displayName: string;
  /** Package database paths (files or directories) whose presence selects this backend. */
  readonly databases: readonly string[];
  /** The package manager's programs; an image with a database but none of these is "distroless". */
  readonly binaries: readonly string[];
  /** Globs (rootfs capture syntax, no leading slash) of the small files the backend reads: database, repositories, keys. */
  readonly capturePatterns: readonly string[];
  /**
   * Summaries the backend's patcher asks the filesystem view for (`LayeredFs.summary`), made
   * while layers are indexed so it need not read a layer again (dpkg: ldconfig's ELF reading).
   */
  readonly fileSummaries?: readonly FileSummarizer[] | undefined;
  /** The installed packages; undefined when the database is absent. */
  readInventory(fs: BackendFiles): Promise<InventoryRead | undefined>;
  /** The format's version order: negative, zero or positive. */
  compareVersions(a: string, b: string): number;
  /** Whether a string is a well-formed version of this format (vulnerability feeds are checked with it). */
  isValidVersion(v: string): boolean;
  /** Vulnerability namespace families whose versions this format orders (`debian`, `alpine`, `rocky`...). */
  readonly namespaces: readonly string[];
  /** Package URL type: "deb", "apk", "rpm". */
  readonly purlType: string;
  /** purl namespace when the OS is unknown ("debian"); otherwise the OS id. */
  readonly fallbackNamespace: string;
  /** The purl's version and the qualifiers that carry parts of it (rpm: the epoch); default: the version. */
  purlVersion?(pkg: Pick<InstalledPackage, "version">): {
    version: string;
    qualifiers?: Record<string, string>;
  };
  /** Extra SBOM properties of a package (name → value), e.g. Debian's Multi-Arch. */
  properties?(pkg: InstalledPackage): Readonly<Record<string, string>>;
  /**
   * An installed package's record as the database stores it, and read back: how the cache of
   * built layers keeps a layer's `installed` records across runs. Absent: a layer taken from
   * that cache carries none, and the patched image is read again for the re-scan.
   */
  readonly records?: RecordCodec | undefined;
  /** Patching; absent for a backend that can only scan. */
  readonly patcher?: BackendPatcher | undefined;
}

/** A package's native record as text, and back. */
export interface RecordCodec {
  /** The record as the package database stores it. */
  encode(pkg: InstalledPackage): string;
  /** The package as `readInventory` reads it from one record; undefined when `text` is not one valid record. */
  decode(text: string, dbPath: string): InstalledPackage | undefined;
}

// ── Patching: plan → fetch → build one layer ─────────────────────────────────────────────────

/** What a backend needs to plan an image's upgrades. */
export interface PlanRequest {
  /** The image being patched (without a previous ocipatch layer). */
  readonly fs: LayeredFs;
  readonly inventory: Inventory;
  /** The image's platform (from its config). */
  readonly platform: Platform;
  readonly targets: readonly UpgradeTarget[];
  readonly mode: PlanMode;
  readonly ignoreErrors: boolean;
  readonly repositories: RepositoryOptions;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
}

/** Where packages come from, and how far to trust them, as the user configured it. */
export interface RepositoryOptions {
  /** Plan only from these kinds of repositories (default: release, security and updates). */
  readonly suites?: readonly SuiteKind[] | undefined;
  /** Mirror rewrites, extra keyrings read from this machine, Valid-Until policy. */
  readonly config?: RepositoryConfig | undefined;
  /** Signed indices are cached here. */
  readonly cacheDir?: string | undefined;
  /** Use only cached indices. */
  readonly offline?: boolean | undefined;
  /** Repository URLs used instead of the image's own (apk: `--repository`, for images without /etc/apk). */
  readonly repositories?: readonly string[] | undefined;
}

export interface PlanOutcome {
  readonly plan: Plan;
  /** Bytes of repository metadata fetched while planning. */
  readonly indexBytes: number;
}

/** One planned package file to fetch: where from, and what it must hash to (from the signed index). */
export interface ArtifactDownload {
  readonly package: string;
  readonly architecture: string;
  readonly version: string;
  readonly url: string;
  /** Hex SHA-256 of the file; "" when the index has none (apk: see `checksum`). */
  readonly sha256: string;
  readonly size: number;
  /** The index's own checksum of the package when it has no SHA-256 (apk `C:` `Q1…`, verified on fetch). */
  readonly checksum?: string | undefined;
}

export interface FetchRequest {
  /** Verified package files are cached here by digest and reused. */
  readonly cacheDir: string;
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ProgressListener | undefined;
  /**
   * Called once, before any file is fetched, with where each item's verified file will be and
   * when it is there: a layer build can start on the first files while the others download.
   */
  readonly onPlanned?: ((files: readonly PendingFile[]) => void) | undefined;
}

/** Where one item of a fetch under way goes, and when it is there. */
export interface PendingFile {
  /** The local path the verified file will have. */
  readonly path: string;
  /** Resolves when the file is there and verified; rejects when it vanished or the fetch failed. */
  readonly ready: Promise<void>;
}

/** A planned file the repository no longer has (HTTP 404/410). */
export interface VanishedArtifact extends Error {
  readonly item: ArtifactDownload;
}

export interface FetchOutcome {
  /** Local verified file per item, in order (undefined: vanished). */
  readonly files: ReadonlyArray<string | undefined>;
  readonly vanished: readonly VanishedArtifact[];
  /** Body bytes fetched (cached files not counted). */
  readonly bytesDownloaded: number;
  readonly fromCache: number;
}

/** One verified package file to put into the patch layer. */
export interface FetchedPackage {
  readonly package: string;
  readonly architecture: string;
  /** Local path of the downloaded, verified file. */
  readonly path: string;
  /**
   * While the file still downloads (a build started early): resolves when it is at `path`,
   * rejects when it will not be. The build reads the file only after. Absent: it is there.
   */
  readonly ready?: Promise<void> | undefined;
  /** The installed package it upgrades; undefined for a package new to the image (a dependency). */
  readonly installed?: InstalledPackage | undefined;
  /** Installed packages it obsoletes (rpm `Obsoletes:`, planned as `replaces`): the layer removes them. */
  readonly replaces?: readonly InstalledPackage[] | undefined;
}

export interface BuildLayerRequest {
  /** The image being patched (already without a previous ocipatch layer). */
  readonly fs: LayeredFs;
  /** The image's platform (from its config); for dpkg, the native architecture. */
  readonly platform: Platform;
  readonly inventory: Inventory;
  readonly packages: readonly FetchedPackage[];
  readonly compression: Compression;
  /** Where the layer file is written (a file path that does not exist yet). */
  readonly layerPath: string;
  /** Manifest media type of the image the layer goes into (docker vs OCI layer media types). */
  readonly manifestMediaType: string;
  /** mtime of the files the backend writes itself (default: a reproducible time from the packages). */
  readonly now?: Date | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A configuration file whose image copy was kept (changed locally). */
export interface KeptConffile {
  readonly package: string;
  readonly path: string;
}

export interface PatchedPackage {
  readonly package: string;
  readonly architecture: string;
  /** undefined for a newly installed package. */
  readonly fromVersion: string | undefined;
  readonly toVersion: string;
}

/** What a package script ocipatch does not run would have done, by kind. */
export const SCRIPT_ACTION_KINDS = [
  "ldconfig",
  "alternatives",
  "services",
  "systemd",
  "users-groups",
  "conffile-migration",
  "debconf",
  "triggers",
  "ca-certificates",
  "statoverride",
  "diversion",
  "python-bytecode",
  "caches",
  "initramfs",
  "shells",
  "permissions",
  "file-changes",
  "other",
] as const;

export type ScriptActionKind = (typeof SCRIPT_ACTION_KINDS)[number];

export interface ScriptAction {
  readonly kind: ScriptActionKind;
  /** The command line (trimmed, shortened) that triggered this classification. */
  readonly detail: string;
}

export interface ScriptFinding {
  /** Which script of which version ("postinst", "triggers"...), and how it would have been called. */
  readonly script: string;
  readonly version: "old" | "new";
  readonly invocation: string;
  readonly actions: ScriptAction[];
}

/** The scripts the package manager would have run for one upgrade (not run). */
export interface ScriptReport {
  readonly package: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  /** True when at least one script would have done more than nothing (heuristic). */
  readonly wouldHaveDoneSomething: boolean;
  readonly findings: ScriptFinding[];
  /** Distinct action kinds, for a one-line summary. */
  readonly kinds: ScriptActionKind[];
}

/** What ocipatch did about one effect a script would have had. */
export const EFFECT_STATUSES = ["applied natively", "not needed", "skipped"] as const;

export type EffectStatus = (typeof EFFECT_STATUSES)[number];

export interface ScriptEffect {
  /** The package whose script or trigger has the effect. */
  readonly package: string;
  /** The command the script would have run ("update-ca-certificates", "ldconfig"). */
  readonly effect: string;
  readonly status: EffectStatus;
  /** One line: what was written, or why it was not needed or skipped. */
  readonly detail: string;
  /** Paths the patch layer writes or removes for this effect (absolute). */
  readonly paths?: readonly string[];
}

/** The one new layer, and what went into it. */
export interface PatchLayer extends FinishedLayer {
  readonly packages: readonly PatchedPackage[];
  /**
   * The installed-package records as the layer leaves them: every record of the database files it
   * rewrote, as the backend's `readInventory` would read them from the patched image. With the
   * inventory the layer was built against, this is the patched image's package set (re-scanned
   * without reading the layers again). Absent: the patched image is read for the re-scan.
   */
  readonly installed?: readonly InstalledPackage[] | undefined;
  /**
   * Installed packages whose records the layer removes (rpm `Obsoletes:`): the patched image no
   * longer has them. Absent: none.
   */
  readonly erased?: readonly Pick<InstalledPackage, "name" | "architecture">[] | undefined;
  readonly keptConffiles: readonly KeptConffile[];
  /** Paths whited out (files the old versions owned that the new ones do not). */
  readonly removed: readonly string[];
  /**
   * The OS identification files (`OS_RELEASE_FILES`) as the patched image has them: absolute path
   * → text, a file it lacks left out. With them the re-scan identifies the patched image's OS
   * without reading its layers when the layer writes one (base-files). Absent: it reads them.
   */
  readonly osFiles?: ReadonlyMap<string, string> | undefined;
  /** The scripts not run: the one package's report, or for several the union of their findings. */
  readonly scripts: ScriptReport;
  /** One report per upgraded package, in the order of the input. */
  readonly scriptReports?: readonly ScriptReport[];
  /** Effects of the skipped scripts that ocipatch reproduced natively or judged. */
  readonly maintainerEffects?: readonly ScriptEffect[];
  readonly warnings: readonly string[];
}

/** The patching half of a backend. */
export interface BackendPatcher {
  /** Which packages go to which versions, from the image's (or configured) signed repositories. */
  plan(req: PlanRequest): Promise<PlanOutcome>;
  /** Download and verify package files (cached by digest); vanished ones are collected, not thrown. */
  fetch(items: readonly ArtifactDownload[], req: FetchRequest): Promise<FetchOutcome>;
  /** The one new layer: the new versions' files, whiteouts, the package database changes. */
  buildLayer(req: BuildLayerRequest): Promise<PatchLayer>;
}
