import type { ArtifactDownload } from "../backends/types.js";
import { OcipatchError } from "../errors.js";
import { packageKey } from "../inventory/package-key.js";
import type { InstalledPackage, Inventory } from "../inventory/types.js";
import { plannedDownloads } from "../plan/downloads.js";
import type { Plan } from "../plan/types.js";

/** A package file the plan wants, with the installed packages it upgrades and replaces. */
export interface WantedPackage {
  readonly item: ArtifactDownload;
  /** The installed package it upgrades (undefined: new to the image). */
  readonly installed: InstalledPackage | undefined;
  /** Other installed packages it replaces (rpm `Obsoletes:`). */
  readonly replaces: readonly InstalledPackage[];
}

/**
 * The plan's package files in its order (updates, then new packages), each with the installed
 * record it upgrades — found by the name and the architecture it has installed, which the new
 * version may change — and the installed packages it replaces.
 */
export function plannedPackages(plan: Plan, inventory: Inventory): WantedPackage[] {
  const installed = new Map(inventory.packages.map((p) => [packageKey(p.name, p.architecture), p]));
  const named = (name: string) => inventory.packages.filter((p) => p.name === name);
  const upgraded = plan.updates.map((u) => {
    const from = installed.get(packageKey(u.name, u.installedArchitecture));
    if (from === undefined)
      throw new OcipatchError(
        "INTERNAL",
        `the plan upgrades ${u.name}:${u.installedArchitecture}, which the image does not have installed`,
      );
    return from;
  });
  const downloads = plannedDownloads(plan);
  return [...plan.updates, ...plan.newPackages].map((u, i) => ({
    item: downloads[i]!,
    installed: upgraded[i],
    replaces: (u.replaces ?? []).flatMap(named),
  }));
}
