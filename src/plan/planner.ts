import type { AvailablePackage } from "../apt/packages.js";
import { compareDebianVersions } from "../debian/version.js";
import { OcipatchError } from "../errors.js";
import type { InstalledPackage } from "../inventory/types.js";
import { displayName, fromAvailable, fromInstalled, instanceKey, type PkgVersion } from "./model.js";
import { NeedMoreIndices, Resolution, ResolveFailure } from "./resolver.js";
import type {
  HeldPackage,
  Plan,
  PlanMode,
  PlannedArtifact,
  PlannedNewPackage,
  PlannedUpdate,
  UnresolvedPackage,
  UpgradeTarget,
} from "./types.js";
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
}

export { NeedMoreIndices };

interface Member {
  readonly key: string;
  readonly installed: PkgVersion;
  readonly to: PkgVersion;
  readonly reason: "target" | "lockstep";
}

interface Group {
  /** Source package name: lockstep unit, and what failures are blamed on. */
  readonly id: string;
  readonly members: Member[];
  readonly vulnerabilityIds: string[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const uniqSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(cmp);

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
      .filter((p) => p.installed!.selection === "hold" || holdNames.has(p.name))
      .map((p) => instanceKey(p.name, p.architecture, native)),
  );
  const ctx = { native, universe: input.universe, held };
  const probe = new Resolution(ctx, installed);

  const heldOut: HeldPackage[] = [];
  const unresolved: UnresolvedPackage[] = [];
  const groups = new Map<string, Group>();
  const idsBySource = new Map<string, Set<string>>();
  const group = (id: string): Group => {
    let g = groups.get(id);
    if (!g) {
      g = { id, members: [], vulnerabilityIds: [] };
      groups.set(id, g);
    }
    return g;
  };
  const versionsOf = (key: string, p: PkgVersion): PkgVersion[] =>
    input.universe
      .versions(p.name)
      .filter((v) => instanceKey(v.name, v.architecture, native) === key)
      .filter((v) => compareDebianVersions(v.version, p.version) > 0)
      .map(fromAvailable);

  if (input.mode === "all") {
    for (const p of installed) {
      const key = instanceKey(p.name, p.architecture, native);
      const c = probe.candidate(key);
      if (!c) continue;
      // copa without a report: what the security/updates suites bring
      const kind = c.available!.origin.kind;
      if (kind !== "security" && kind !== "updates") continue;
      if (held.has(key)) {
        heldOut.push(heldEntry(p, c.version, [], native));
        continue;
      }
      group(p.source).members.push({ key, installed: p, to: c, reason: "target" });
    }
  } else {
    collectTargets();
  }

  function heldEntry(
    p: PkgVersion,
    candidate: string | undefined,
    ids: readonly string[],
    nat: string,
  ): HeldPackage {
    return {
      package: displayName(p.name, p.architecture, nat),
      architecture: p.architecture,
      installedVersion: p.version,
      candidateVersion: candidate,
      vulnerabilityIds: uniqSorted(ids),
    };
  }

  function collectTargets(): void {
    // merge findings per source package: highest fixed version, all ids
    interface SourceNeed {
      fixed: string | undefined;
      unbounded: boolean;
      ids: Set<string>;
      packages: Map<string, string | undefined>; // binary name → binary fixed version (package targets)
    }
    const needs = new Map<string, SourceNeed>();
    const need = (src: string): SourceNeed => {
      let n = needs.get(src);
      if (!n) {
        n = { fixed: undefined, unbounded: false, ids: new Set(), packages: new Map() };
        needs.set(src, n);
      }
      return n;
    };
    for (const t of input.targets ?? []) {
      if (t.sourceName) {
        const n = need(t.sourceName);
        for (const id of t.vulnerabilityIds) n.ids.add(id);
        if (t.fixedVersion === undefined) n.unbounded = true;
        else if (n.fixed === undefined || compareDebianVersions(t.fixedVersion, n.fixed) > 0)
          n.fixed = t.fixedVersion;
      } else if (t.package) {
        const bins = installed.filter((p) => p.name === t.package);
        if (bins.length === 0) {
          unresolved.push({
            package: t.package,
            architecture: undefined,
            installedVersion: undefined,
            reason: `${t.package} is not installed`,
            vulnerabilityIds: uniqSorted(t.vulnerabilityIds),
          });
          continue;
        }
        const n = need(bins[0]!.source);
        for (const id of t.vulnerabilityIds) n.ids.add(id);
        const prev = n.packages.get(t.package);
        const f =
          t.fixedVersion === undefined
            ? undefined
            : prev === undefined || compareDebianVersions(t.fixedVersion, prev) > 0
              ? t.fixedVersion
              : prev;
        n.packages.set(t.package, f);
        if (t.fixedVersion === undefined) n.unbounded = true;
      }
    }
    for (const [src, n] of [...needs.entries()].sort((a, b) => cmp(a[0], b[0]))) {
      idsBySource.set(src, n.ids);
      const ids = [...n.ids];
      const bins = installed
        .filter((p) => p.source === src)
        .sort((a, b) =>
          cmp(instanceKey(a.name, a.architecture, native), instanceKey(b.name, b.architecture, native)),
        );
      if (bins.length === 0) {
        unresolved.push({
          package: src,
          architecture: undefined,
          installedVersion: undefined,
          reason: `no installed package is built from source ${src}`,
          vulnerabilityIds: uniqSorted(ids),
        });
        continue;
      }
      const vulnerable = (p: PkgVersion): boolean => {
        if (n.unbounded) return true;
        if (n.fixed !== undefined && compareDebianVersions(p.sourceVersion, n.fixed) < 0) return true;
        const bf = n.packages.get(p.name);
        return bf !== undefined && compareDebianVersions(p.version, bf) < 0;
      };
      const fixes = (p: PkgVersion, v: PkgVersion): boolean => {
        if (n.fixed !== undefined && compareDebianVersions(v.sourceVersion, n.fixed) < 0) return false;
        const bf = n.packages.get(p.name);
        return bf === undefined || compareDebianVersions(v.version, bf) >= 0;
      };
      const affected = bins.filter(vulnerable);
      if (affected.length === 0) continue; // already at a fixed version
      const movable = bins.filter((p) => {
        const key = instanceKey(p.name, p.architecture, native);
        if (!held.has(key)) return true;
        if (vulnerable(p)) heldOut.push(heldEntry(p, probe.candidate(key)?.version, ids, native));
        return false;
      });
      // the source version to move to: the highest offered that fixes every affected binary
      const options = new Map<string, Map<string, PkgVersion>>(); // source version → key → best binary
      for (const p of movable) {
        const key = instanceKey(p.name, p.architecture, native);
        for (const v of versionsOf(key, p)) {
          if (v.source !== src) continue;
          let m = options.get(v.sourceVersion);
          if (!m) {
            m = new Map();
            options.set(v.sourceVersion, m);
          }
          const prev = m.get(key);
          if (!prev || compareDebianVersions(v.version, prev.version) > 0) m.set(key, v);
        }
      }
      const movableAffected = affected.filter((p) => movable.includes(p));
      const ranked = [...options.keys()].sort((a, b) => compareDebianVersions(b, a));
      const chosen = ranked.find((sv) =>
        movableAffected.every((p) => {
          const v = options.get(sv)!.get(instanceKey(p.name, p.architecture, native));
          return v !== undefined && fixes(p, v);
        }),
      );
      if (chosen === undefined) {
        if (movableAffected.length === 0) continue; // all affected binaries are held
        if (!input.universe.complete)
          throw new NeedMoreIndices(`no fixed version of ${src} in the loaded suites`);
        const want = n.fixed ? `≥ ${n.fixed}` : "newer than the installed one";
        const best = ranked[0];
        const reason = best
          ? `no version of source ${src} ${want} fixes every installed binary (newest: ${best})`
          : `no version of source ${src} ${want} in the release's suites`;
        for (const p of movableAffected) {
          unresolved.push({
            package: displayName(p.name, p.architecture, native),
            architecture: p.architecture,
            installedVersion: p.version,
            reason,
            vulnerabilityIds: uniqSorted(ids),
          });
        }
        continue;
      }
      const g = group(src);
      g.vulnerabilityIds.push(...ids);
      const direct = (p: PkgVersion): boolean =>
        n.packages.size === 0 || n.packages.has(p.name) || vulnerable(p);
      for (const p of movable) {
        const key = instanceKey(p.name, p.architecture, native);
        const v = options.get(chosen)!.get(key);
        if (!v) continue; // this binary is not rebuilt at that version (nothing newer for it)
        g.members.push({ key, installed: p, to: v, reason: direct(p) ? "target" : "lockstep" });
      }
    }
  }

  if (!input.ignoreErrors && unresolved.length > 0) {
    const u = unresolved[0]!;
    throw new OcipatchError("RESOLVE", `cannot plan ${u.package}: ${u.reason}`, {
      details: { package: u.package },
    });
  }

  // resolve; with ignoreErrors, drop the group a failure is blamed on and try again
  const excluded = new Set<string>();
  const sortedGroups = [...groups.values()].sort((a, b) => cmp(a.id, b.id));
  let res: Resolution;
  for (;;) {
    res = new Resolution(ctx, installed);
    try {
      for (const g of sortedGroups) {
        if (excluded.has(g.id)) continue;
        for (const m of g.members) res.mark(m.key, m.to, m.reason, undefined, g.id);
      }
      res.settle();
      break;
    } catch (e) {
      if (!(e instanceof ResolveFailure)) throw e;
      const g = groups.get(e.root);
      if (!input.ignoreErrors || !g || excluded.has(g.id)) {
        throw new OcipatchError("RESOLVE", `cannot plan ${g ? `source ${g.id}` : e.pkg}: ${e.reason}`, {
          details: { package: e.pkg, source: e.root },
        });
      }
      excluded.add(g.id);
      for (const m of g.members) {
        unresolved.push({
          package: displayName(m.installed.name, m.installed.architecture, native),
          architecture: m.installed.architecture,
          installedVersion: m.installed.version,
          reason: e.reason,
          vulnerabilityIds: uniqSorted(g.vulnerabilityIds),
        });
      }
    }
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
        architecture: to.architecture,
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
