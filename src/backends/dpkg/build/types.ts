import type { Compression } from "../../../image/media-types.js";
import type { InstalledPackage, Inventory } from "../../../inventory/types.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import type { KeptConffile, PatchedPackage, PatchLayer } from "../../types.js";

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

/** The dpkg builder's result: the neutral patch layer. */
export type BuildPatchLayerResult = PatchLayer;
export type { KeptConffile, PatchedPackage };
