import { OcipatchError } from "../errors.js";
import type { Image } from "../image/image.js";
import { detectOs } from "../os/detect.js";
import { detectPackageManager, PACKAGE_DATABASES } from "../os/package-manager.js";
import { readDpkgInventory } from "../pkg/dpkg/database.js";
import { LayeredFs, type LayeredFsOptions } from "../rootfs/index.js";
import { appendAll } from "../util/streams.js";
import type { InstalledPackage, Inventory } from "./types.js";

export interface ReadInventoryOptions extends LayeredFsOptions {
  /**
   * Package managers ocipatch cannot read yet (apk, rpm): "error" (default)
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
  const fs = await LayeredFs.open(image, opts);
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
  const os = await detectOs(fs);
  if (os.family === "unknown") {
    warnings.push(
      os.id === "unknown"
        ? `${fs.description}: cannot identify the OS (no /etc/os-release, /usr/lib/os-release or release file)`
        : `${fs.description}: unsupported OS "${os.id}"${os.versionId ? ` ${os.versionId}` : ""}`,
    );
  }
  const pm = await detectPackageManager(fs);
  let packages: InstalledPackage[] = [];
  switch (pm.packageManager) {
    case "dpkg": {
      const db = await readDpkgInventory(fs);
      if (db) {
        packages = db.packages;
        appendAll(warnings, db.warnings);
        if (packages.length === 0)
          warnings.push(`${fs.description}: the dpkg database lists no installed package`);
      }
      break;
    }
    case "apk":
    case "rpm": {
      const what = pm.packageManager === "apk" ? "Alpine apk" : "RPM";
      const msg = `${fs.description}: ${what} package databases are not supported yet (found ${pm.databases.join(", ")}; OS ${os.id}${os.versionId ? ` ${os.versionId}` : ""})`;
      if ((opts.unsupported ?? "error") === "error") throw new OcipatchError("UNSUPPORTED", msg);
      warnings.push(msg);
      break;
    }
    case "none":
      warnings.push(
        `${fs.description}: no package database found (looked for ${Object.values(PACKAGE_DATABASES).flat().join(", ")})`,
      );
      break;
  }
  appendAll(warnings, await fs.warnings());
  return { os, packageManager: pm.packageManager, distroless: pm.distroless, packages, warnings };
}
