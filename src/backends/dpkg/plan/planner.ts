import { OcipatchError } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type {
  Plan,
  PlanMode,
  PlannedArtifact,
  PlannedNewPackage,
  PlannedUpdate,
  UpgradeTarget,
} from "../../../plan/types.js";
import type { AvailablePackage } from "../apt/packages.js";
import { displayName, fromInstalled, instanceKey } from "./model.js";
import { NeedMoreIndices, Resolution, ResolveFailure } from "./resolver.js";
import { type Group, selectTargets, uniqSorted } from "./targets.js";
import type { PackageUniverse } from "./universe.js";

export interface PlanInput {
  /** The image's installed packages (dpkg inventory). */
  readonly packages: readonly InstalledPackage[];
  /** The image's native Debian architecture. */
  readonly architecture: string;
  readonly universe: PackageUniverse;
  readonly mode: PlanMode;
  /** For mode `targets`: the findings to fix. */
  readonly targets?: readonly UpgradeTarget[];
  /** Extra package names to keep (in addition to dpkg selection `hold`). */
  readonly holds?: readonly string[];
  /** Report unresolvable packages and plan the rest, instead of failing. */
  readonly ignoreErrors?: boolean;
  /**
   * Leave dependencies the image already lacked unmet instead of installing new packages for
   * them (distroless images; see ResolverContext.keepUnmetDependencies and docs/PATCHING.md).
   */
  readonly keepUnmetDependencies?: boolean;
}

export { NeedMoreIndices };

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function artifact(p: AvailablePackage): PlannedArtifact {
  return {
    suite: p.origin.suite,
    suiteKind: p.origin.kind,
    component: p.origin.component,
    filename: p.filename,
    url: `${p.origin.fetchUri}/${p.filename}`,
    size: p.size,
    sha256: p.sha256,
  };
}

/**
 * Decide which packages go to which versions — apt's decision, without apt.
 *
 * - Per source package, every installed binary built from it moves to the same source
 *   version (libssl and openssl in lockstep): the highest the release's suites offer, which
 *   must be ≥ the fixed version; never a downgrade, never another release.
 * - Dependencies of the new versions are satisfied (upgrading installed packages, or
 *   installing new ones only when a dependency demands it), Breaks/Conflicts respected.
 * - Held packages are skipped and reported; an unresolvable source is reported and, with
 *   `ignoreErrors`, left out while the rest is planned (else a RESOLVE error).
 *
 * Throws NeedMoreIndices when the universe is incomplete and a miss might be a false negative.
 */
export function planUpgrades(input: PlanInput): Plan {
  const native = input.architecture;
  const warnings: string[] = [];
  const installed = input.packages.map((p) => fromInstalled(p, (m) => warnings.push(m)));
  const holdNames = new Set(input.holds ?? []);
  const held = new Set(
    installed
      .filter((p) => p.installed!.held || holdNames.has(p.name))
      .map((p) => instanceKey(p.name, p.architecture, native)),
  );
  const ctx = {
    native,
    universe: input.universe,
    held,
    keepUnmetDependencies: input.keepUnmetDependencies ?? false,
  };
  const probe = new Resolution(ctx, installed);

  const selection = selectTargets({
    installed,
    native,
    universe: input.universe,
    held,
    probe,
    mode: input.mode,
    targets: input.targets ?? [],
  });
  const { groups, unresolved, idsBySource } = selection;
  const heldOut = selection.held;

  if (!input.ignoreErrors && unresolved.length > 0) {
    const u = unresolved[0]!;
    throw new OcipatchError("RESOLVE", `cannot plan ${u.package}: ${u.reason}`, {
      details: { package: u.package },
    });
  }

  // resolve. In `all` mode, as apt's dist-upgrade, a package whose upgrade cannot be completed is
  // kept back (reported) and the rest planned; otherwise, with ignoreErrors, the source group a
  // failure is blamed on is left out; else the failure is an error.
  const excluded = new Set<string>();
  const keptBack = new Map<string, string>(); // instance key → reason (kept back alone, mode all)
  const left = new Map<string, string>(); // instance key → reason (its source group left out)
  const sortedGroups = [...groups.values()].sort((a, b) => cmp(a.id, b.id));
  const memberOf = new Map<string, Group>();
  for (const g of sortedGroups) for (const m of g.members) memberOf.set(m.key, g);
  let res: Resolution;
  for (;;) {
    res = new Resolution({ ...ctx, keptBack: new Set(keptBack.keys()) }, installed);
    try {
      for (const g of sortedGroups) {
        if (excluded.has(g.id)) continue;
        for (const m of g.members) {
          if (!keptBack.has(m.key) && !left.has(m.key)) res.mark(m.key, m.to, m.reason, undefined, g.id);
        }
      }
      res.settle();
      break;
    } catch (e) {
      if (!(e instanceof ResolveFailure)) throw e;
      if (input.mode === "all" && e.key !== undefined && !keptBack.has(e.key) && memberOf.has(e.key)) {
        keptBack.set(e.key, e.reason);
        continue;
      }
      const g = groups.get(e.root);
      if (!input.ignoreErrors || !g || excluded.has(g.id)) {
        throw new OcipatchError("RESOLVE", `cannot plan ${g ? `source ${g.id}` : e.pkg}: ${e.reason}`, {
          details: { package: e.pkg, source: e.root },
        });
      }
      excluded.add(g.id);
      for (const m of g.members) {
        if (!keptBack.has(m.key)) left.set(m.key, e.reason);
      }
    }
  }
  const notPlanned = [
    ...[...keptBack].map(([k, r]) => [k, `kept back: ${r}`] as const),
    ...[...left].map(([k, r]) => [k, r] as const),
  ];
  for (const [key, reason] of notPlanned.sort((a, b) => cmp(a[0], b[0]))) {
    const g = memberOf.get(key)!;
    const m = g.members.find((x) => x.key === key)!;
    unresolved.push({
      package: displayName(m.installed.name, m.installed.architecture, native),
      architecture: m.installed.architecture,
      installedVersion: m.installed.version,
      reason,
      vulnerabilityIds: uniqSorted(g.vulnerabilityIds),
    });
  }

  const updates: PlannedUpdate[] = [];
  const newPackages: PlannedNewPackage[] = [];
  for (const ch of res.changes.values()) {
    const to = ch.to;
    const a = to.available!;
    const name = displayName(to.name, to.architecture, native);
    const requiredBy = uniqSorted(ch.requiredBy);
    if (ch.from) {
      const ids = [...(idsBySource.get(ch.from.source) ?? []), ...(idsBySource.get(to.source) ?? [])];
      updates.push({
        package: name,
        name: to.name,
        architecture: to.architecture,
        installedArchitecture: ch.from.architecture,
        installedVersion: ch.from.version,
        targetVersion: to.version,
        sourceName: to.source,
        sourceVersion: to.sourceVersion,
        vulnerabilityIds: uniqSorted(ids),
        reason: ch.reason === "new" ? "dependency" : ch.reason,
        requiredBy,
        ...artifact(a),
      });
    } else {
      newPackages.push({
        package: name,
        name: to.name,
        architecture: to.architecture,
        targetVersion: to.version,
        sourceName: to.source,
        sourceVersion: to.sourceVersion,
        requiredBy,
        ...artifact(a),
      });
      warnings.push(
        `new package ${name} ${to.version} is installed because ${requiredBy.join(", ")} depends on it`,
      );
    }
  }
  for (const u of [...res.keptUnmet.values()].sort((a, b) => cmp(a.package, b.package))) {
    warnings.push(
      `${u.package} depends on ${u.dependency}, which the image does not have (nor did it before): left unmet, not installed`,
    );
  }
  for (const h of heldOut) {
    warnings.push(
      `${h.package} is on hold: not upgraded${h.candidateVersion ? ` to ${h.candidateVersion}` : ""}`,
    );
  }
  const byPkg = (a: { package: string; architecture?: string | undefined }, b: typeof a): number =>
    cmp(a.package, b.package) || cmp(a.architecture ?? "", b.architecture ?? "");
  updates.sort(byPkg);
  newPackages.sort(byPkg);
  heldOut.sort(byPkg);
  unresolved.sort(byPkg);
  const downloadSize = [...updates, ...newPackages].reduce((s, u) => s + u.size, 0);
  return { mode: input.mode, updates, newPackages, held: heldOut, unresolved, downloadSize, warnings };
}
