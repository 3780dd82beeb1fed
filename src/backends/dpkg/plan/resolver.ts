import type { UpdateReason } from "../../../plan/types.js";
import type { RelationGroup } from "../debian/relations.js";
import { compareDebianVersions } from "../debian/version.js";
import {
  byVersionDesc,
  displayName,
  effectiveArch,
  formatGroup,
  fromAvailable,
  instanceKey,
  negativeHits,
  type PkgVersion,
  priorityRank,
  satisfies,
} from "./model.js";
import type { PackageUniverse } from "./universe.js";

/** A dependency problem that cannot be solved; `root` is the target group it is blamed on. */
export class ResolveFailure extends Error {
  constructor(
    readonly root: string,
    readonly pkg: string,
    readonly reason: string,
    /**
     * The instance (`name:arch`) whose upgrade cannot be completed because a dependency cannot be
     * satisfied (apt keeps such a package back). Unset for conflicts apt would solve by a removal.
     */
    readonly key?: string,
  ) {
    super(reason);
  }
}

/** The universe lacks indices that might solve the problem: load them and plan again. */
export class NeedMoreIndices extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

interface Change {
  readonly key: string;
  readonly from: PkgVersion | undefined;
  to: PkgVersion;
  reason: UpdateReason | "new";
  readonly requiredBy: Set<string>;
  readonly root: string;
}

interface ResolverContext {
  readonly native: string;
  readonly universe: PackageUniverse;
  /** Instance keys (`name:arch`) that must not change. */
  readonly held: ReadonlySet<string>;
  /**
   * Instance keys kept at their installed version because their upgrade cannot be completed
   * (apt's "kept back" in a dist-upgrade): they must not change, like held ones.
   */
  readonly keptBack?: ReadonlySet<string> | undefined;
  /**
   * Distroless images ship packages without their dependencies on purpose (no debconf, no
   * perl...). When true, a dependency of an upgraded package that was already unmet in the
   * image — the installed version declared it and none of its alternatives is installed — stays
   * unmet instead of pulling a new package in. New dependencies are still satisfied.
   */
  readonly keepUnmetDependencies?: boolean | undefined;
}

/** A dependency left unmet because the image never had it (keepUnmetDependencies). */
interface UnmetDependency {
  readonly package: string;
  readonly dependency: string;
}

/**
 * apt's decision for a set of marked upgrades, without apt: start from the installed set,
 * apply the marks, then repeat until stable: every Depends/Pre-Depends of a changed package
 * satisfied (upgrading an installed package to its candidate, or installing a new one, as
 * apt's MarkInstall does), every installed package still satisfied (reverse dependencies with
 * strict versions are upgraded to their candidates), no Breaks/Conflicts between the
 * resulting versions (the broken side is upgraded). Nothing is ever removed or downgraded.
 */
export class Resolution {
  readonly selected = new Map<string, PkgVersion>();
  readonly changes = new Map<string, Change>();
  private readonly installed = new Map<string, PkgVersion>();
  private readonly byName = new Map<string, Set<string>>();
  private readonly providersOf = new Map<string, Set<string>>();
  private readonly queue: string[] = [];
  private readonly candidateMemo = new Map<string, PkgVersion | undefined>();
  /** Dependencies left unmet as they were in the image (keepUnmetDependencies), by depender and group. */
  readonly keptUnmet = new Map<string, UnmetDependency>();

  constructor(
    private readonly ctx: ResolverContext,
    installed: readonly PkgVersion[],
  ) {
    for (const p of installed) {
      const key = instanceKey(p.name, p.architecture, ctx.native);
      this.installed.set(key, p);
      this.put(key, p);
    }
  }

  /** Held or kept back: must stay at the installed version. */
  private frozen(key: string): boolean {
    return this.ctx.held.has(key) || (this.ctx.keptBack?.has(key) ?? false);
  }

  private put(key: string, p: PkgVersion): void {
    const prev = this.selected.get(key);
    if (prev) for (const pr of prev.provides) this.providersOf.get(pr.name)?.delete(key);
    this.selected.set(key, p);
    add(this.byName, p.name, key);
    for (const pr of p.provides) add(this.providersOf, pr.name, key);
  }

  private show(p: PkgVersion): string {
    return `${displayName(p.name, p.architecture, this.ctx.native)} ${p.version}`;
  }

  /**
   * apt's candidate for an instance: the highest available version above the installed one
   * (never a downgrade), or undefined when nothing newer exists.
   */
  candidate(key: string): PkgVersion | undefined {
    if (this.candidateMemo.has(key)) return this.candidateMemo.get(key);
    const colon = key.lastIndexOf(":");
    const name = key.slice(0, colon);
    const arch = key.slice(colon + 1);
    const inst = this.installed.get(key);
    const best = this.ctx.universe
      .versions(name)
      .filter((v) => effectiveArch(v.architecture, this.ctx.native) === arch)
      .filter((v) => !inst || compareDebianVersions(v.version, inst.version) > 0)
      .sort(byVersionDesc)[0];
    const c = best ? fromAvailable(best) : undefined;
    this.candidateMemo.set(key, c);
    return c;
  }

  /** Mark an instance for a version. */
  mark(
    key: string,
    to: PkgVersion,
    reason: UpdateReason | "new",
    requiredBy: string | undefined,
    root: string,
  ): void {
    const cur = this.selected.get(key);
    const existing = this.changes.get(key);
    if (existing) {
      if (requiredBy) existing.requiredBy.add(requiredBy);
      if (compareDebianVersions(existing.to.version, to.version) >= 0) return;
    } else if (cur && compareDebianVersions(cur.version, to.version) >= 0) {
      return;
    }
    const name = key.slice(0, key.lastIndexOf(":"));
    if (this.frozen(key)) {
      const by = requiredBy ? ` (needed by ${requiredBy})` : "";
      const what = this.ctx.held.has(key) ? "is on hold" : "is kept back";
      const dependerKey = requiredBy ? this.keyOfShown(requiredBy) : undefined;
      throw new ResolveFailure(root, name, `${name} ${what}${by}`, dependerKey);
    }
    if (existing) {
      existing.to = to;
    } else {
      this.changes.set(key, {
        key,
        from: this.installed.get(key),
        to,
        reason,
        requiredBy: new Set(requiredBy ? [requiredBy] : []),
        root,
      });
    }
    this.put(key, to);
    this.queue.push(key);
  }

  /** The changed instance shown as `requiredBy` (see show()), if any. */
  private keyOfShown(shown: string): string | undefined {
    for (const [k, ch] of this.changes) if (this.show(ch.to) === shown) return k;
    return undefined;
  }

  private rootOf(key: string): string | undefined {
    return this.changes.get(key)?.root;
  }

  /** Is the group satisfied by the current selection? */
  private groupSatisfied(g: RelationGroup, dependerArch: string): boolean {
    for (const rel of g) {
      const keys = [...(this.byName.get(rel.name) ?? []), ...(this.providersOf.get(rel.name) ?? [])];
      for (const k of keys) {
        const p = this.selected.get(k);
        if (p && satisfies(rel, dependerArch, p, this.ctx.native)) return true;
      }
    }
    return false;
  }

  /** Was the group satisfied by the installed packages? (Pre-existing breakage is not ours to fix.) */
  private groupSatisfiedBefore(g: RelationGroup, dependerArch: string): boolean {
    for (const rel of g) {
      for (const p of this.installed.values()) {
        if (satisfies(rel, dependerArch, p, this.ctx.native)) return true;
      }
    }
    return false;
  }

  /**
   * With keepUnmetDependencies: was this group already unmet in the image? True when none of its
   * alternatives (nor a provider of one) is installed and the installed version of the depender
   * declared a dependency on one of the same names. Such a group is recorded and left alone.
   */
  private keepUnmet(g: RelationGroup, key: string, depender: PkgVersion): boolean {
    if (!this.ctx.keepUnmetDependencies) return false;
    const old = this.installed.get(key);
    if (!old) return false;
    const names = new Set(g.map((r) => r.name));
    for (const n of names) {
      if ((this.byName.get(n)?.size ?? 0) > 0 || (this.providersOf.get(n)?.size ?? 0) > 0) return false;
    }
    const declared = [...old.preDepends, ...old.depends].some((og) => og.some((r) => names.has(r.name)));
    if (!declared) return false;
    const dependency = formatGroup(g);
    this.keptUnmet.set(`${key} ${dependency}`, { package: this.show(depender), dependency });
    return true;
  }

  /** Satisfy an unsatisfied dependency group of `depender`, as apt's MarkInstall does. */
  private fixGroup(g: RelationGroup, dependerKey: string, depender: PkgVersion, root: string): void {
    const native = this.ctx.native;
    const da = effectiveArch(depender.architecture, native);
    const requiredBy = this.show(depender);
    // 1. alternatives in order: an installed package upgraded to its candidate, else a new real package
    for (const rel of g) {
      const keys = [...(this.byName.get(rel.name) ?? [])].sort();
      for (const k of keys) {
        if (this.frozen(k)) continue;
        const c = this.candidate(k);
        if (c && satisfies(rel, da, c, native)) {
          this.mark(k, c, "dependency", requiredBy, root);
          return;
        }
      }
      const arches =
        rel.archQualifier === undefined || rel.archQualifier === "any"
          ? [...new Set([da, native])]
          : [rel.archQualifier === "native" ? native : rel.archQualifier];
      for (const a of arches) {
        const k = `${rel.name}:${a}`;
        if (this.selected.has(k)) continue;
        const c = this.candidate(k);
        if (c && satisfies(rel, da, c, native)) {
          this.mark(k, c, "new", requiredBy, root);
          return;
        }
      }
    }
    // 2. virtual packages: an installed provider's candidate first, then new providers by priority and name
    for (const rel of g) {
      const provs = this.ctx.universe
        .providers(rel.name)
        .map(fromAvailable)
        .filter((p) => satisfies(rel, da, p, native))
        .map((p) => ({ p, key: instanceKey(p.name, p.architecture, native) }))
        .filter(({ p, key }) => {
          const c = this.candidate(key);
          return !this.frozen(key) && c !== undefined && c.version === p.version;
        })
        .sort(
          (a, b) =>
            Number(this.selected.has(b.key)) - Number(this.selected.has(a.key)) ||
            priorityRank(a.p.priority) - priorityRank(b.p.priority) ||
            (a.p.name < b.p.name ? -1 : a.p.name > b.p.name ? 1 : 0),
        );
      const first = provs[0];
      if (first) {
        this.mark(first.key, first.p, this.selected.has(first.key) ? "dependency" : "new", requiredBy, root);
        return;
      }
    }
    if (!this.ctx.universe.complete) {
      throw new NeedMoreIndices(`${requiredBy} depends on ${formatGroup(g)}`);
    }
    const heldHit = g.find((rel) => [...(this.byName.get(rel.name) ?? [])].some((k) => this.frozen(k)));
    const heldKey = heldHit && [...(this.byName.get(heldHit.name) ?? [])].find((k) => this.frozen(k));
    const why = heldHit
      ? ` (${heldHit.name} is ${heldKey && this.ctx.held.has(heldKey) ? "on hold" : "kept back"})`
      : "";
    throw new ResolveFailure(
      root,
      dependerKey.slice(0, dependerKey.lastIndexOf(":")),
      `${requiredBy} depends on ${formatGroup(g)}, which no available version satisfies${why}`,
      dependerKey,
    );
  }

  /** Process marked packages' dependencies, then re-check the whole selection, until stable. */
  settle(): void {
    const native = this.ctx.native;
    for (let round = 0; round < 1000; round++) {
      while (this.queue.length > 0) {
        const key = this.queue.shift()!;
        const p = this.selected.get(key)!;
        const root = this.rootOf(key)!;
        const da = effectiveArch(p.architecture, native);
        for (const g of [...p.preDepends, ...p.depends]) {
          if (!this.groupSatisfied(g, da) && !this.keepUnmet(g, key, p)) this.fixGroup(g, key, p, root);
        }
      }
      if (!this.checkSelection()) return;
    }
    throw new ResolveFailure("", "", "dependency resolution did not converge");
  }

  /** One pass over the whole selection; true when it marked something (and another pass is due). */
  private checkSelection(): boolean {
    const native = this.ctx.native;
    const keys = [...this.selected.keys()].sort();
    for (const key of keys) {
      const p = this.selected.get(key)!;
      const da = effectiveArch(p.architecture, native);
      const changed = this.changes.has(key);
      // a changed package whose dependency a later change broke: satisfy it again
      if (changed) {
        for (const g of [...p.preDepends, ...p.depends]) {
          if (this.groupSatisfied(g, da) || this.keepUnmet(g, key, p)) continue;
          this.fixGroup(g, key, p, this.rootOf(key)!);
          return true;
        }
      }
      // positive dependencies of unchanged packages, broken by an upgrade (e.g. `= old-version`)
      if (!changed) {
        for (const g of [...p.preDepends, ...p.depends]) {
          if (this.groupSatisfied(g, da) || !this.groupSatisfiedBefore(g, da)) continue;
          const culprit = this.blame(g);
          const c = this.frozen(key) ? undefined : this.candidate(key);
          if (c) {
            this.mark(key, c, "dependency", culprit?.show, culprit?.root ?? "");
            return true;
          }
          const root = culprit?.root ?? "";
          throw new ResolveFailure(
            root,
            culprit?.name ?? p.name,
            `${culprit?.show ?? "an upgrade"} breaks ${this.show(p)}, which depends on ${formatGroup(g)} and has no newer version${this.ctx.held.has(key) ? " (on hold)" : this.frozen(key) ? " (kept back)" : ""}`,
            culprit?.key,
          );
        }
      }
      // Breaks/Conflicts in either direction between a changed package and any other
      for (const g of [...p.breaks, ...p.conflicts]) {
        for (const rel of g) {
          const hits = [...(this.byName.get(rel.name) ?? []), ...(this.providersOf.get(rel.name) ?? [])];
          for (const qk of [...new Set(hits)].sort()) {
            if (qk === key) continue;
            const q = this.selected.get(qk)!;
            if (!negativeHits(rel, q, native)) continue;
            if (!changed && !this.changes.has(qk)) continue; // pre-existing
            if (this.resolveConflict(key, p, qk, q, rel.name)) return true;
          }
        }
      }
    }
    return false;
  }

  /** p's Breaks/Conflicts hits q: upgrade whichever side can move so that it no longer does. */
  private resolveConflict(pk: string, p: PkgVersion, qk: string, q: PkgVersion, relName: string): boolean {
    const native = this.ctx.native;
    const stillHits = (a: PkgVersion, b: PkgVersion): boolean =>
      [...a.breaks, ...a.conflicts].some((g) => g.some((r) => negativeHits(r, b, native)));
    const root = this.rootOf(pk) ?? this.rootOf(qk) ?? "";
    for (const [sideKey, side, other] of [
      [qk, q, p],
      [pk, p, q],
    ] as const) {
      if (this.frozen(sideKey)) continue;
      const c = this.candidate(sideKey);
      const current = this.changes.get(sideKey)?.to ?? side;
      if (!c || compareDebianVersions(c.version, current.version) <= 0) continue;
      if (stillHits(other, c) || stillHits(c, other)) continue;
      this.mark(sideKey, c, this.installed.has(sideKey) ? "dependency" : "new", this.show(other), root);
      return true;
    }
    throw new ResolveFailure(
      root,
      p.name,
      `${this.show(p)} breaks/conflicts with ${this.show(q)} (${relName}) and no available version avoids it`,
    );
  }

  /** The changed package most likely responsible for an unsatisfied group of an unchanged one. */
  private blame(g: RelationGroup): { key: string; name: string; show: string; root: string } | undefined {
    for (const rel of g) {
      for (const k of [...(this.byName.get(rel.name) ?? [])].sort()) {
        const ch = this.changes.get(k);
        if (ch) return { key: k, name: ch.to.name, show: this.show(ch.to), root: ch.root };
      }
    }
    return undefined;
  }
}

function add(m: Map<string, Set<string>>, k: string, v: string): void {
  const s = m.get(k);
  if (s) s.add(v);
  else m.set(k, new Set([v]));
}
