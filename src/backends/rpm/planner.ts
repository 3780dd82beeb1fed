/**
 * rpm upgrade planning over verified repository metadata (no dnf, no libsolv): which installed
 * packages go to which versions, which packages are added or replace obsoleted ones, so that every
 * requirement of the result holds (versioned, file and rich requires; conflicts; obsoletes).
 *
 * - `targets`: each vulnerable source rpm to the SMALLEST build whose EVR is >= the fixed one (the
 *   newest without a fixed version); every installed binary of that source rpm moves to the same
 *   build (lockstep), or the source is unresolved.
 * - `all`: what `dnf upgrade` does: every installed name.arch to the newest EVR the repositories
 *   have (same arch or noarch), an installed package obsoleted by the newest version of a package
 *   that is not installed replaced by it.
 * - Requires of the new versions are closed against installed − replaced + planned (provides, file
 *   lists of the installed headers and of primary.xml): an installed provider moves (its source in
 *   lockstep), else the best provider is added (the exact name, then the newest, then the shortest
 *   name). A planned package that obsoletes an installed one replaces it.
 * - Failures fail the plan (RESOLVE), or with ignoreErrors the source is left out, reported in
 *   `unresolved`, and the rest is planned again (as the apk and dpkg planners do).
 */
import { OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type {
  Plan,
  PlanMode,
  PlannedNewPackage,
  PlannedUpdate,
  UnresolvedPackage,
  UpdateReason,
  UpgradeTarget,
} from "../../plan/types.js";
import {
  type DepAtom,
  type DepExpr,
  depText,
  evalDependency,
  missingAtoms,
  parseDependency,
  rangesOverlap,
  type Sense,
  senseOfBits,
  senseOfFlags,
} from "./deps.js";
import { sourceRpmName, sourceRpmVersion } from "./header.js";
import { rpmRecord } from "./record.js";
import type { RepoPackage } from "./repo/primary.js";
import { compareRpmVersions as cmp } from "./version.js";

/** What the planner needs of a repository (RpmRepository satisfies it). */
export interface RpmPlanRepository {
  readonly id: string;
  readonly baseurl: string;
  readonly packages: readonly RepoPackage[];
}

interface RpmPlanInput {
  readonly installed: readonly InstalledPackage[];
  readonly repos: readonly RpmPlanRepository[];
  readonly targets: readonly UpgradeTarget[];
  readonly mode: PlanMode;
  readonly ignoreErrors?: boolean | undefined;
}

interface RpmCandidate {
  readonly pkg: RepoPackage;
  readonly repo: RpmPlanRepository;
}

/** A dependency of a package, parsed once. */
interface Dep {
  readonly text: string;
  readonly expr: DepExpr;
}

/** A package of the planned result, as dependencies see it. */
interface View {
  readonly key: string;
  readonly name: string;
  readonly arch: string;
  readonly evr: string;
  readonly provides: readonly DepAtom[];
  readonly files: readonly string[];
  readonly requires: readonly Dep[];
  readonly conflicts: readonly DepAtom[];
  readonly obsoletes: readonly DepAtom[];
}

const EQ: Sense = { less: false, greater: false, equal: true };
const keyOf = (name: string, arch: string) => `${name}.${arch}`;
/** rpm's own capabilities: satisfied by rpm itself, not by a package. */
const isRpmlib = (name: string) => name.startsWith("rpmlib(");

function depOf(name: string, sense: Sense | undefined, evr: string | undefined, where: string): Dep {
  return { text: depText(name, sense, evr), expr: parseDependency(name, sense, evr, where) };
}

function installedView(p: InstalledPackage): View {
  const h = rpmRecord(p).header;
  const w = `${p.name} ${p.version}`;
  const atom = (d: { name: string; flags: number; version: string }): DepAtom => ({
    name: d.name,
    sense: senseOfBits(d.flags),
    evr: d.version === "" ? undefined : d.version,
  });
  return {
    key: keyOf(p.name, p.architecture),
    name: p.name,
    arch: p.architecture,
    evr: p.version,
    provides: [{ name: p.name, sense: EQ, evr: p.version }, ...h.provides.map(atom)],
    files: h.files.map((f) => f.path),
    requires: h.requires
      .filter((d) => !isRpmlib(d.name))
      .map((d) => depOf(d.name, senseOfBits(d.flags), d.version === "" ? undefined : d.version, w)),
    conflicts: h.conflicts.map(atom),
    obsoletes: h.obsoletes.map(atom),
  };
}

const viewCache = new WeakMap<RepoPackage, View>();
function repoView(p: RepoPackage): View {
  const hit = viewCache.get(p);
  if (hit) return hit;
  const w = `${p.name} ${p.evr}`;
  const atom = (d: RepoPackage["provides"][number]): DepAtom => ({
    name: d.name,
    sense: senseOfFlags(d.flags),
    evr: d.evr,
  });
  const v: View = {
    key: keyOf(p.name, p.arch),
    name: p.name,
    arch: p.arch,
    evr: p.evr,
    provides: [{ name: p.name, sense: EQ, evr: p.evr }, ...p.provides.map(atom)],
    files: p.files.filter((f) => f.type !== "dir").map((f) => f.path),
    requires: p.requires
      .filter((d) => !isRpmlib(d.name))
      .map((d) => depOf(d.name, senseOfFlags(d.flags), d.evr, w)),
    conflicts: p.conflicts.map(atom),
    obsoletes: p.obsoletes.map(atom),
  };
  viewCache.set(p, v);
  return v;
}

/** Does `v` provide `a` (a capability, or a file path)? */
function provides(v: View, a: DepAtom): boolean {
  if (v.provides.some((p) => p.name === a.name && rangesOverlap(p, a))) return true;
  return a.name.startsWith("/") && v.files.includes(a.name);
}

/** Does obsoletes/conflicts atom `a` of one package hit package `v` (by name and EVR)? */
const hits = (a: DepAtom, v: View): boolean =>
  a.name === v.name && rangesOverlap(a, { sense: EQ, evr: v.evr });

const archOk = (installed: string, cand: string) =>
  cand === installed || cand === "noarch" || installed === "noarch";

class Failure {
  constructor(
    readonly source: string,
    readonly pkg: string,
    readonly reason: string,
  ) {}
}

interface Chosen {
  readonly cand: RpmCandidate;
  reason: UpdateReason;
  readonly requiredBy: Set<string>;
  /** Other installed packages (keys) the new version obsoletes. */
  readonly replaces: Set<string>;
}

interface Added {
  readonly cand: RpmCandidate;
  readonly requiredBy: Set<string>;
  readonly replaces: Set<string>;
}

/** The source rpm name of a repository package (its own name when it has none). */
const sourceOfRepo = (p: RepoPackage): string => (p.sourceRpm && sourceRpmName(p.sourceRpm)) || p.name;

export function planRpmUpgrades(input: RpmPlanInput): Plan {
  // ── indices ──
  const byName = new Map<string, RpmCandidate[]>();
  const byProvide = new Map<string, RpmCandidate[]>();
  const byFile = new Map<string, RpmCandidate[]>();
  const byObsoleted = new Map<string, RpmCandidate[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const l = m.get(k);
    if (l) l.push(v);
    else m.set(k, [v]);
  };
  for (const repo of input.repos) {
    for (const pkg of repo.packages) {
      const list = byName.get(pkg.name) ?? [];
      if (list.some((c) => c.pkg.arch === pkg.arch && cmp(c.pkg.evr, pkg.evr) === 0)) continue; // first repository wins
      const cand = { pkg, repo };
      push(byName, pkg.name, cand);
      for (const p of pkg.provides) if (p.name !== pkg.name) push(byProvide, p.name, cand);
      for (const f of pkg.files) if (f.type !== "dir") push(byFile, f.path, cand);
      for (const o of pkg.obsoletes) push(byObsoleted, o.name, cand);
    }
  }
  const newestOfName = (name: string, arch?: string): RpmCandidate | undefined =>
    (byName.get(name) ?? [])
      .filter((c) => arch === undefined || archOk(arch, c.pkg.arch))
      .sort((a, b) => cmp(b.pkg.evr, a.pkg.evr))[0];

  const installed = input.installed.filter((p) => p.name !== "gpg-pubkey");
  const instByKey = new Map(installed.map((p) => [keyOf(p.name, p.architecture), p]));
  const instViews = new Map(installed.map((p) => [keyOf(p.name, p.architecture), installedView(p)]));
  const instNames = new Set(installed.map((p) => p.name));
  const bySource = new Map<string, InstalledPackage[]>();
  for (const p of installed) push(bySource, p.sourceName, p);
  const sourceOfKey = (k: string) => instByKey.get(k)?.sourceName ?? k;
  /** Capability names and file paths → the views that have them (installed ones built once). */
  const indexView = (idx: Map<string, View[]>, v: View) => {
    for (const p of v.provides) push(idx, p.name, v);
    for (const f of v.files) push(idx, f, v);
  };
  const instIndex = new Map<string, View[]>();
  for (const v of instViews.values()) indexView(instIndex, v);
  const instProvides = (a: DepAtom) => (instIndex.get(a.name) ?? []).some((v) => provides(v, a));

  /** Builds (source rpm files) that have a newer version of every installed binary of `source`. */
  const buildsOf = (
    source: string,
  ): Array<{ srpm: string; evr: string; cands: Map<string, RpmCandidate> }> => {
    const subs = bySource.get(source) ?? [];
    const builds = new Map<string, Map<string, RpmCandidate>>();
    for (const s of subs) {
      for (const c of byName.get(s.name) ?? []) {
        if (!archOk(s.architecture, c.pkg.arch) || !c.pkg.sourceRpm) continue;
        if (cmp(c.pkg.evr, s.version) <= 0) continue;
        const m = builds.get(c.pkg.sourceRpm) ?? new Map<string, RpmCandidate>();
        const k = keyOf(s.name, s.architecture);
        const prev = m.get(k);
        if (!prev || c.pkg.arch === s.architecture) m.set(k, c);
        builds.set(c.pkg.sourceRpm, m);
      }
    }
    const out: Array<{ srpm: string; evr: string; cands: Map<string, RpmCandidate> }> = [];
    for (const [srpm, cands] of builds) {
      if (cands.size !== subs.length) continue;
      const epoch = [...cands.values()][0]?.pkg.epoch;
      const vr = sourceRpmVersion(srpm) ?? "";
      out.push({ srpm, evr: `${epoch && epoch !== "0" ? `${epoch}:` : ""}${vr}`, cands });
    }
    return out.sort((a, b) => cmp(a.evr, b.evr));
  };

  // ── goals ──
  interface Goal {
    /** Lowest fixed version of the source rpm, or of one binary (`binary`). */
    readonly mins: Array<{ binary: string | undefined; evr: string }>;
    newest: boolean;
    readonly ids: Set<string>;
  }
  const goals = new Map<string, Goal>();
  const warnings: string[] = [];
  if (input.mode === "targets") {
    for (const t of input.targets) {
      const byBin = t.package !== undefined ? installed.find((p) => p.name === t.package) : undefined;
      const source =
        t.sourceName !== undefined && bySource.has(t.sourceName) ? t.sourceName : byBin?.sourceName;
      if (source === undefined) continue;
      const g = goals.get(source) ?? { mins: [], newest: false, ids: new Set<string>() };
      for (const id of t.vulnerabilityIds) g.ids.add(id);
      if (t.fixedVersion === undefined) g.newest = true;
      else
        g.mins.push({
          binary: byBin && source !== t.sourceName ? byBin.name : undefined,
          evr: t.fixedVersion,
        });
      goals.set(source, g);
    }
  }
  const vulnIds = (source: string) => [...(goals.get(source)?.ids ?? [])];

  const excluded = new Map<string, Failure>();

  const attempt = () => {
    const chosen = new Map<string, Chosen>();
    const added = new Map<string, Added>();
    const removed = new Set<string>();
    const failures: Failure[] = [];
    const work: View[] = [];
    const planned = new Map<string, View>();

    const plannedIndex = new Map<string, View[]>();
    const plan = (k: string, v: View) => {
      planned.set(k, v);
      indexView(plannedIndex, v);
      work.push(v);
    };
    const setChosen = (k: string, cand: RpmCandidate, reason: UpdateReason, by: string | undefined) => {
      chosen.set(k, { cand, reason, requiredBy: new Set(by ? [by] : []), replaces: new Set() });
      removed.add(k);
      plan(repoView(cand.pkg).key, repoView(cand.pkg));
    };
    const setAdded = (cand: RpmCandidate, by: string | undefined, replaces: string[] = []) => {
      const v = repoView(cand.pkg);
      const prev = added.get(v.key);
      if (prev) {
        if (by) prev.requiredBy.add(by);
        for (const r of replaces) prev.replaces.add(r);
        return;
      }
      added.set(v.key, { cand, requiredBy: new Set(by ? [by] : []), replaces: new Set(replaces) });
      for (const r of replaces) removed.add(r);
      plan(v.key, v);
    };
    /** Move every installed binary of `source` to one build. */
    const moveSource = (
      build: { cands: Map<string, RpmCandidate> },
      reason: UpdateReason,
      by: string | undefined,
    ): boolean => {
      for (const [k, cand] of build.cands) {
        const prev = chosen.get(k);
        if (prev) {
          if (cmp(prev.cand.pkg.evr, cand.pkg.evr) !== 0) return false;
          if (by) prev.requiredBy.add(by);
          continue;
        }
        if (removed.has(k)) continue; // obsoleted by a planned package
        setChosen(k, cand, reason, by);
      }
      return true;
    };

    // 1. the goals
    if (input.mode === "all") {
      for (const p of installed) {
        const k = keyOf(p.name, p.architecture);
        if (excluded.has(p.sourceName) || removed.has(k)) continue;
        // an obsoleter (newest version of a name not installed) wins over an upgrade, as in dnf
        const obs = (byObsoleted.get(p.name) ?? []).filter(
          (c) =>
            !instNames.has(c.pkg.name) &&
            archOk(p.architecture, c.pkg.arch) &&
            newestOfName(c.pkg.name, p.architecture) === c &&
            c.pkg.obsoletes.some((o) =>
              hits({ name: o.name, sense: senseOfFlags(o.flags), evr: o.evr }, instViews.get(k)!),
            ),
        );
        if (obs.length > 0) {
          const best = obs.sort((a, b) => a.pkg.name.localeCompare(b.pkg.name))[0]!;
          if (!excluded.has(sourceOfRepo(best.pkg))) {
            setAdded(best, undefined, [k]);
            continue;
          }
        }
        const c = newestOfName(p.name, p.architecture);
        if (c && cmp(c.pkg.evr, p.version) > 0) setChosen(k, c, "target", undefined);
      }
    } else {
      for (const [source, g] of goals) {
        if (excluded.has(source)) continue;
        const subs = bySource.get(source) ?? [];
        const fixedAlready = (b: { binary: string | undefined; evr: string }) =>
          b.binary !== undefined
            ? subs.filter((s) => s.name === b.binary).every((s) => cmp(s.version, b.evr) >= 0)
            : subs.every((s) => cmp(s.sourceVersion, b.evr) >= 0);
        if (!g.newest && g.mins.every(fixedAlready)) continue;
        const builds = buildsOf(source);
        const ok = (b: (typeof builds)[number]) =>
          g.mins.every((m) => {
            if (m.binary === undefined) return cmp(b.evr, m.evr) >= 0;
            return [...b.cands.values()]
              .filter((c) => c.pkg.name === m.binary)
              .every((c) => cmp(c.pkg.evr, m.evr) >= 0);
          });
        const pick = g.newest ? builds.at(-1) : builds.find(ok);
        if (!pick) {
          // an obsoleter of a target binary fixes it too (the package was renamed)
          const repl = subs.flatMap((s) =>
            (byObsoleted.get(s.name) ?? [])
              .filter(
                (c) =>
                  !instNames.has(c.pkg.name) &&
                  c.pkg.obsoletes.some((o) =>
                    hits(
                      { name: o.name, sense: senseOfFlags(o.flags), evr: o.evr },
                      instViews.get(keyOf(s.name, s.architecture))!,
                    ),
                  ),
              )
              .map((c) => ({ s, c })),
          );
          if (repl.length > 0 && repl.length >= subs.length) {
            for (const { s, c } of repl) setAdded(c, undefined, [keyOf(s.name, s.architecture)]);
            continue;
          }
          const newest = buildsOf(source).at(-1)?.evr;
          const want = g.mins.map((m) => `${m.binary ?? source} >= ${m.evr}`).join(", ");
          failures.push(
            new Failure(
              source,
              subs[0]?.name ?? source,
              g.newest
                ? `no newer build of ${source} in the repositories for all of its installed subpackages`
                : `no build of ${source} with ${want} in the repositories for all of its installed subpackages (newest: ${newest ?? "none"})`,
            ),
          );
          continue;
        }
        moveSource(pick, "target", undefined);
      }
    }

    // 2. closure of the planned packages' requires, conflicts and obsoletes
    const has = (a: DepAtom): boolean => {
      if ((plannedIndex.get(a.name) ?? []).some((v) => planned.get(v.key) === v && provides(v, a)))
        return true;
      return (instIndex.get(a.name) ?? []).some((v) => !removed.has(v.key) && provides(v, a));
    };
    const finalViews = (): View[] => [
      ...[...instViews].filter(([k]) => !removed.has(k)).map(([, v]) => v),
      ...planned.values(),
    ];
    const providers = (a: DepAtom): RpmCandidate[] => {
      const pool = a.name.startsWith("/")
        ? [...(byFile.get(a.name) ?? []), ...(byProvide.get(a.name) ?? []), ...(byName.get(a.name) ?? [])]
        : [...(byName.get(a.name) ?? []), ...(byProvide.get(a.name) ?? [])];
      return [...new Set(pool)].filter((c) => provides(repoView(c.pkg), a));
    };
    /** Make one atom hold: move an installed provider, or add the best new one. */
    const satisfy = (a: DepAtom, by: View): string | undefined => {
      const cands = providers(a);
      const instCands = cands.filter((c) => instNames.has(c.pkg.name));
      for (const c of instCands) {
        const inst = installed.find((p) => p.name === c.pkg.name && archOk(p.architecture, c.pkg.arch));
        if (!inst) continue;
        const source = inst.sourceName;
        if (excluded.has(source)) return `${source} cannot be upgraded (${excluded.get(source)?.reason})`;
        const builds = buildsOf(source).filter((b) =>
          [...b.cands.values()].some((x) => x.pkg.name === c.pkg.name && provides(repoView(x.pkg), a)),
        );
        const b = input.mode === "all" ? builds.at(-1) : builds[0];
        if (b && moveSource(b, "dependency", by.name)) return undefined;
      }
      const fresh = cands
        .filter((c) => !instNames.has(c.pkg.name) && !excluded.has(sourceOfRepo(c.pkg)))
        .sort(
          (x, y) =>
            Number(y.pkg.name === a.name) - Number(x.pkg.name === a.name) ||
            Number(y.pkg.arch === by.arch) - Number(x.pkg.arch === by.arch) ||
            x.pkg.name.localeCompare(y.pkg.name) ||
            cmp(y.pkg.evr, x.pkg.evr),
        );
      // the newest version of the best-named provider
      const best = fresh
        .filter((c) => c.pkg.name === fresh[0]?.pkg.name)
        .sort((x, y) => cmp(y.pkg.evr, x.pkg.evr))[0];
      if (!best) return cands.length === 0 ? "which no repository provides" : "no provider can be planned";
      setAdded(best, by.name);
      return undefined;
    };

    while (work.length > 0) {
      const v = work.shift() as View;
      if (planned.get(v.key) !== v) continue;
      const source = [...chosen.values(), ...added.values()].find((c) => repoView(c.cand.pkg) === v)?.cand
        .pkg;
      const src = source ? sourceOfRepo(source) : v.name;
      // obsoletes: installed packages this one replaces
      for (const o of v.obsoletes) {
        for (const [k, iv] of instViews) {
          if (removed.has(k) || iv.name === v.name || !hits(o, iv)) continue;
          removed.add(k);
          const by = added.get(v.key) ?? [...chosen.values()].find((c) => repoView(c.cand.pkg) === v);
          if (by) by.replaces.add(k);
          else
            warnings.push(`${v.name} ${v.evr} obsoletes installed ${iv.name} ${iv.evr}, which is replaced`);
        }
      }
      for (const dep of v.requires) {
        if (evalDependency(dep.expr, has)) continue;
        const groups = missingAtoms(dep.expr, has);
        let problem: string | undefined =
          groups.length === 0 ? "which cannot be satisfied by adding a package" : undefined;
        for (const alternatives of groups) {
          let last: string | undefined = "which no repository provides";
          for (const a of alternatives) {
            last = satisfy(a, v);
            if (last === undefined) break;
          }
          if (last !== undefined) problem = last;
        }
        if (problem === undefined && !evalDependency(dep.expr, has))
          problem = "which the planned versions do not satisfy";
        if (problem !== undefined)
          failures.push(new Failure(src, v.name, `${v.name} ${v.evr} needs ${dep.text}, ${problem}`));
      }
    }
    // 3. conflicts both ways, and installed packages that stay: their requires must still hold
    const views = finalViews();
    for (const v of views) {
      for (const c of v.conflicts) {
        const hit = [
          ...(plannedIndex.get(c.name) ?? []).filter((x) => planned.get(x.key) === x),
          ...(instIndex.get(c.name) ?? []).filter((x) => !removed.has(x.key)),
        ].find((x) => x !== v && provides(x, c));
        if (hit && (planned.has(v.key) || planned.has(hit.key))) {
          const culprit = planned.has(v.key) ? v : hit;
          failures.push(
            new Failure(
              sourceOfKey(culprit.key),
              culprit.name,
              `${v.name} ${v.evr} conflicts with ${hit.name} ${hit.evr} (${depText(c.name, c.sense, c.evr)})`,
            ),
          );
        }
      }
    }
    for (const [k, iv] of instViews) {
      if (removed.has(k)) continue;
      for (const dep of iv.requires) {
        if (evalDependency(dep.expr, has)) continue;
        // it did not hold before either: not this plan's doing
        if (!evalDependency(dep.expr, instProvides)) continue;
        // the source whose planned move took the provider away is the one left out
        const gone = missingAtoms(dep.expr, has).flat();
        const culprit = [...removed].find((r) => gone.some((a) => provides(instViews.get(r) as View, a)));
        failures.push(
          new Failure(
            sourceOfKey(culprit ?? k),
            iv.name,
            `installed ${iv.name} ${iv.evr} needs ${dep.text}, which the planned versions no longer satisfy`,
          ),
        );
      }
    }
    return { chosen, added, failures };
  };

  let result = attempt();
  while (result.failures.length > 0) {
    const f = result.failures[0] as Failure;
    if (!input.ignoreErrors)
      throw new OcipatchError(
        "RESOLVE",
        `cannot plan ${f.pkg}: ${f.reason}${result.failures.length > 1 ? ` (and ${result.failures.length - 1} more)` : ""}`,
      );
    const before = excluded.size;
    for (const x of result.failures) if (!excluded.has(x.source)) excluded.set(x.source, x);
    if (excluded.size === before)
      throw new OcipatchError("INTERNAL", `rpm planning does not converge at ${f.pkg}: ${f.reason}`);
    result = attempt();
  }

  const artifact = (c: RpmCandidate) => ({
    suite: c.repo.id,
    suiteKind: "release" as const,
    component: c.repo.id,
    filename: c.pkg.location,
    url: `${c.repo.baseurl}/${c.pkg.location}`,
    size: c.pkg.size,
    sha256: c.pkg.checksum.type === "sha256" ? c.pkg.checksum.value : "",
    ...(c.pkg.checksum.type !== "sha256"
      ? { checksum: `${c.pkg.checksum.type}:${c.pkg.checksum.value}` }
      : {}),
  });
  const srcVersion = (p: RepoPackage) => {
    const vr = p.sourceRpm ? sourceRpmVersion(p.sourceRpm) : undefined;
    return vr === undefined ? p.evr : `${p.epoch && p.epoch !== "0" ? `${p.epoch}:` : ""}${vr}`;
  };
  const updates: PlannedUpdate[] = [];
  for (const p of installed) {
    const c = result.chosen.get(keyOf(p.name, p.architecture));
    if (!c) continue;
    updates.push({
      ...artifact(c.cand),
      package: p.name,
      name: p.name,
      architecture: c.cand.pkg.arch,
      installedArchitecture: p.architecture,
      installedVersion: p.version,
      targetVersion: c.cand.pkg.evr,
      sourceName: sourceOfRepo(c.cand.pkg),
      sourceVersion: srcVersion(c.cand.pkg),
      vulnerabilityIds: vulnIds(p.sourceName),
      reason: c.reason,
      requiredBy: [...c.requiredBy].sort(),
      ...(c.replaces.size > 0
        ? { replaces: [...c.replaces].map((k) => instByKey.get(k)?.name ?? k).sort() }
        : {}),
    });
  }
  const newPackages: PlannedNewPackage[] = [...result.added.values()].map((a) => ({
    ...artifact(a.cand),
    package: a.cand.pkg.name,
    name: a.cand.pkg.name,
    architecture: a.cand.pkg.arch,
    targetVersion: a.cand.pkg.evr,
    sourceName: sourceOfRepo(a.cand.pkg),
    sourceVersion: srcVersion(a.cand.pkg),
    requiredBy: [...a.requiredBy].sort(),
    ...(a.replaces.size > 0
      ? { replaces: [...a.replaces].map((k) => instByKey.get(k)?.name ?? k).sort() }
      : {}),
  }));
  const unresolved: UnresolvedPackage[] = [];
  for (const [source, f] of excluded) {
    const subs = bySource.get(source) ?? [];
    if (subs.length === 0)
      unresolved.push({
        package: f.pkg,
        architecture: undefined,
        installedVersion: undefined,
        reason: f.reason,
        vulnerabilityIds: [],
      });
    for (const p of subs)
      unresolved.push({
        package: p.name,
        architecture: p.architecture,
        installedVersion: p.version,
        reason: f.reason,
        vulnerabilityIds: vulnIds(source),
      });
  }
  return {
    mode: input.mode,
    updates,
    newPackages,
    held: [],
    unresolved,
    downloadSize: [...updates, ...newPackages].reduce((n, u) => n + u.size, 0),
    warnings,
  };
}
