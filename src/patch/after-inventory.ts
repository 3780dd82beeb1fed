import { backendById } from "../backends/registry.js";
import type { PatchLayer } from "../backends/types.js";
import { packageKey } from "../inventory/package-key.js";
import type { InstalledPackage, Inventory } from "../inventory/types.js";
import { detectOs, OS_RELEASE_FILES } from "../os/detect.js";

/** The part of the patch layer the patched image's inventory follows from. */
type LayerFacts = Pick<PatchLayer, "installed" | "erased" | "osFiles"> & {
  readonly paths: ReadonlySet<string>;
};

function key(p: Pick<InstalledPackage, "name" | "architecture">): string {
  return packageKey(p.name, p.architecture);
}

/** Does the layer write, or white out, `abs` or one of its parent directories? */
export function layerTouches(paths: ReadonlySet<string>, abs: string): boolean {
  const parts = abs.replace(/^\/+/, "").split("/");
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i - 1).join("/");
    const name = parts[i - 1]!;
    const prefix = dir === "" ? "" : `${dir}/`;
    if (paths.has(`${prefix}.wh.${name}`) || paths.has(`${prefix}.wh..wh..opq`)) return true;
  }
  return paths.has(parts.join("/"));
}

/**
 * The patched image's inventory, known without reading its layers: the inventory the layer was
 * built against, with every record the layer wrote replacing the one of the same package (in
 * place) or added at the end, and the packages it erased left out; when the layer writes an OS
 * identification file, the OS identified from the files as the layer leaves them (`osFiles`).
 * Undefined when the layer changes what the inventory also derives from other files — the OS
 * identification files without `osFiles`, or a package manager program of a distroless image — or
 * when the backend does not say what it wrote: the caller reads the patched image instead.
 */
export async function inventoryAfterLayer(
  before: Inventory,
  layer: LayerFacts,
): Promise<Inventory | undefined> {
  if (layer.installed === undefined) return undefined;
  let os = before.os;
  if (OS_RELEASE_FILES.some((f) => layerTouches(layer.paths, f))) {
    const files = layer.osFiles;
    if (files === undefined) return undefined;
    os = await detectOs({ readTextIfExists: async (path) => files.get(path) });
  }
  const backend = before.packageManager === "none" ? undefined : backendById(before.packageManager);
  if (!backend) return undefined;
  if (before.distroless && backend.binaries.some((b) => layerTouches(layer.paths, b))) return undefined;

  const written = new Map(layer.installed.map((p) => [key(p), p]));
  const erased = new Set((layer.erased ?? []).map(key));
  const packages: InstalledPackage[] = [];
  for (const p of before.packages) {
    const k = key(p);
    const now = written.get(k);
    if (now === undefined && erased.has(k)) continue;
    packages.push(now ?? p);
    written.delete(k);
  }
  packages.push(...written.values());
  return { ...before, os, packages };
}
