import type { Compression } from "../../../image/media-types.js";
import type { InstalledPackage, Inventory } from "../../../inventory/types.js";
import type { FinishedLayer } from "../../../patch/layer/layer-writer.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import type { MaintainerEffect, MaintainerScriptReport } from "../maintainer-scripts/index.js";

/** One verified .deb to put into the patch layer. */
export interface DebToInstall {
  readonly package: string;
  readonly architecture: string;
  /** Local path of the downloaded, SHA256-verified .deb. */
  readonly debPath: string;
  /** The installed package it upgrades; undefined for a package new to the image (a dependency). */
  readonly installed?: InstalledPackage | undefined;
}

export interface BuildPatchLayerInput {
  /** The image being patched (already without a previous ocipatch layer). */
  readonly fs: LayeredFs;
  readonly inventory: Inventory;
  readonly debs: readonly DebToInstall[];
  readonly compression: Compression;
  /** Where the layer file is written (a file path that does not exist yet). */
  readonly layerPath: string;
  /** Manifest media type of the image the layer goes into (docker vs OCI layer media types). */
  readonly manifestMediaType: string;
  /** mtime of the database files, directories and whiteouts written (default: layerTime(), reproducible). */
  readonly now?: Date | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** A conffile whose image copy was kept (changed locally; dpkg --force-confold). */
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

export interface BuildPatchLayerResult extends FinishedLayer {
  readonly packages: readonly PatchedPackage[];
  readonly keptConffiles: readonly KeptConffile[];
  /** Paths whited out (files the old versions owned that the new ones do not). */
  readonly removed: readonly string[];
  /**
   * The maintainer scripts dpkg would have run for the upgraded packages (not
   * run): the one package's report, or for several the union of their findings
   * (see `scriptReports` for each package).
   */
  readonly scripts: MaintainerScriptReport;
  /** One report per upgraded package, in the order of `debs`. */
  readonly scriptReports?: readonly MaintainerScriptReport[];
  /**
   * Effects of the skipped scripts that ocipatch reproduces natively or judged:
   * "applied natively" (written into the layer), "not needed", or "skipped".
   */
  readonly maintainerEffects?: readonly MaintainerEffect[];
  readonly warnings: readonly string[];
}
