import type { HeldPackage, PlanMode, UnresolvedPackage, UpgradeTarget } from "../../../plan/types.js";
import { compareDebianVersions } from "../debian/version.js";
import { displayName, fromAvailable, instanceKey, type PkgVersion } from "./model.js";
import { NeedMoreIndices, type Resolution } from "./resolver.js";
import type { PackageUniverse } from "./universe.js";

/** One binary instance to move, and why. */
export interface Member {
  readonly key: string;
  readonly installed: PkgVersion;
  readonly to: PkgVersion;
  readonly reason: "target" | "lockstep";
}

/** The lockstep unit: the installed binaries of one source package. Failures are blamed on it. */
export interface Group {
  /** Source package name. */
  readonly id: string;
  readonly members: Member[];
  readonly vulnerabilityIds: string[];
}

interface TargetSelection {
  readonly groups: Map<string, Group>;
  readonly held: HeldPackage[];
  readonly unresolved: UnresolvedPackage[];
  /** Vulnerability ids per source package (targets mode). */
  readonly idsBySource: Map<string, Set<string>>;
}

interface SelectInput {
  readonly installed: readonly PkgVersion[];
  readonly native: string;
  readonly universe: PackageUniverse;
  readonly held: ReadonlySet<string>;
  /** Gives apt's candidate of an instance. */
  readonly probe: Resolution;
  readonly mode: PlanMode;
  readonly targets: readonly UpgradeTarget[];
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
export const uniqSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort(cmp);

/**
 * What to move where, before dependencies: in `all` mode every installed package whose
 * candidate comes from the security/updates suites; in `targets` mode, per source package
 * with findings, the highest offered source version that fixes every affected binary, for
 * every installed binary of that source (lockstep).
 */
export function selectTargets(input: SelectInput): TargetSelection {
  const { installed, native, held, probe } = input;
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
    for (const t of input.targets) {
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

  return { groups, held: heldOut, unresolved, idsBySource };
}
