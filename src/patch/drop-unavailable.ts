import { packageKey } from "../inventory/package-key.js";
import type { Plan, PlannedNewPackage, PlannedUpdate, UnresolvedPackage } from "../plan/types.js";

/** A planned package that cannot be fetched, and why (e.g. the mirror answers 404). */
interface UnavailablePackage {
  /** As the package file says it (PlannedUpdate.name). */
  readonly name: string;
  readonly architecture: string;
  readonly reason: string;
}

type Item = PlannedUpdate | PlannedNewPackage;

const itemKey = (i: { name: string; architecture: string }): string => packageKey(i.name, i.architecture);
/** `requiredBy` entries read "<name[:arch]> <version>". */
const requiredName = (r: string): string => r.split(" ")[0]!;
const nameOf = (i: Item): string => i.package;

/**
 * The plan without packages that cannot be fetched (`--ignore-errors`), keeping it
 * consistent: a package's whole source group goes (binaries of one source move in
 * lockstep), so does every planned package whose new version requires a dropped one, and
 * every dependency that only dropped packages needed. Each dropped package is reported in
 * `unresolved` with the reason.
 */
export function dropUnavailable(plan: Plan, unavailable: readonly UnavailablePackage[]): Plan {
  const items: Item[] = [...plan.updates, ...plan.newPackages];
  const why = new Map<string, string>();
  const dropped = new Set<string>();
  const dropSource = (source: string, reason: string): boolean => {
    let changed = false;
    for (const i of items) {
      const k = itemKey(i);
      if (i.sourceName !== source || dropped.has(k)) continue;
      dropped.add(k);
      why.set(k, reason);
      changed = true;
    }
    return changed;
  };
  for (const u of unavailable) {
    const item = items.find((i) => itemKey(i) === itemKey(u));
    if (item) dropSource(item.sourceName, u.reason);
  }
  for (let changed = true; changed; ) {
    changed = false;
    const droppedNames = new Set(items.filter((i) => dropped.has(itemKey(i))).map(nameOf));
    for (const i of items) {
      if (dropped.has(itemKey(i))) continue;
      const by = i.requiredBy.map(requiredName);
      // a package whose new version needs a dropped one: its new version cannot be installed
      const needs = items.find(
        (d) => dropped.has(itemKey(d)) && d.requiredBy.map(requiredName).includes(i.package),
      );
      if (needs) {
        changed =
          dropSource(i.sourceName, `needs ${needs.package} ${needs.targetVersion}, which was dropped`) ||
          changed;
        continue;
      }
      // a dependency (or a new package) that only dropped packages needed
      const isDependencyOnly = !("reason" in i) || i.reason === "dependency";
      if (isDependencyOnly && by.length > 0 && by.every((n) => droppedNames.has(n))) {
        changed = dropSource(i.sourceName, `only needed by dropped ${by.join(", ")}`) || changed;
      }
    }
  }
  if (dropped.size === 0) return plan;

  const keep = <T extends Item>(xs: readonly T[]): T[] => xs.filter((x) => !dropped.has(itemKey(x)));
  const unresolved: UnresolvedPackage[] = [
    ...plan.unresolved,
    ...items
      .filter((i) => dropped.has(itemKey(i)))
      .map((i) => ({
        package: i.package,
        architecture: i.architecture,
        installedVersion: "installedVersion" in i ? i.installedVersion : undefined,
        reason: why.get(itemKey(i))!,
        vulnerabilityIds: "vulnerabilityIds" in i ? i.vulnerabilityIds : [],
      })),
  ];
  const updates = keep(plan.updates);
  const newPackages = keep(plan.newPackages);
  return {
    ...plan,
    updates,
    newPackages,
    unresolved,
    downloadSize: [...updates, ...newPackages].reduce((s, u) => s + u.size, 0),
  };
}
