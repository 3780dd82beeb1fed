import { detectBackend, knownDatabases } from "../backends/detect.js";
import { backendViewOptions } from "../backends/registry.js";
import type { InventoryRead, PackageBackend } from "../backends/types.js";
import { isOcipatchError } from "../errors.js";
import type { Image } from "../image/image.js";
import { detectOs } from "../os/detect.js";
import { LayeredFs, type LayeredFsOptions } from "../rootfs/index.js";
import { appendAll } from "../util/streams.js";
import type { InstalledPackage, Inventory } from "./types.js";

export interface ReadInventoryOptions extends LayeredFsOptions {
  /**
   * A package database the backend cannot read yet (e.g. RPM NDB with LZO blobs): "error" (default)
   * throws UNSUPPORTED; "warn" returns an empty inventory with a warning.
   */
  readonly unsupported?: "error" | "warn";
}

/**
 * What an image has installed: its OS and the packages of its package database,
 * read from the layers without running anything. Opens (and closes) its own
 * filesystem view; use `readInventoryFromFs` to share one.
 */
export async function readInventory(image: Image, opts: ReadInventoryOptions = {}): Promise<Inventory> {
  const backends = backendViewOptions();
  const fs = await LayeredFs.open(image, {
    ...opts,
    extraCapturePatterns: [...backends.extraCapturePatterns, ...(opts.extraCapturePatterns ?? [])],
    fileSummaries: opts.fileSummaries ?? backends.fileSummaries,
  });
  try {
    return await readInventoryFromFs(fs, opts);
  } finally {
    await fs.close();
  }
}

/** `readInventory` over an existing filesystem view. */
export async function readInventoryFromFs(
  fs: LayeredFs,
  opts: Pick<ReadInventoryOptions, "unsupported"> = {},
): Promise<Inventory> {
  const warnings: string[] = [];
  // the OS identity and the package manager need every layer down to the base: read them side by side
  fs.prefetchLayers();
  const os = await detectOs(fs);
  if (os.family === "unknown") {
    warnings.push(
      os.id === "unknown"
        ? `${fs.description}: cannot identify the OS (no /etc/os-release, /usr/lib/os-release or release file)`
        : `${fs.description}: unsupported OS "${os.id}"${os.versionId ? ` ${os.versionId}` : ""}`,
    );
  }
  const pm = await detectBackend(fs);
  let packages: InstalledPackage[] = [];
  if (pm.backend) {
    const read = await readOrRefuse(pm.backend, fs, opts.unsupported ?? "error", warnings);
    if (read) {
      packages = read.packages;
      appendAll(warnings, read.warnings);
    }
  } else {
    warnings.push(`${fs.description}: no package database found (looked for ${knownDatabases().join(", ")})`);
  }
  appendAll(warnings, await fs.warnings());
  return { os, packageManager: pm.packageManager, distroless: pm.distroless, packages, warnings };
}

/** The backend's inventory; a database format it refuses (UNSUPPORTED) becomes a warning on request. */
async function readOrRefuse(
  backend: PackageBackend,
  fs: LayeredFs,
  unsupported: "error" | "warn",
  warnings: string[],
): Promise<InventoryRead | undefined> {
  try {
    return await backend.readInventory(fs);
  } catch (e) {
    if (unsupported === "warn" && isOcipatchError(e, "UNSUPPORTED")) {
      warnings.push(e.message);
      return undefined;
    }
    throw e;
  }
}
