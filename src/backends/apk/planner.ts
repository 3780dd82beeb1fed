/**
 * apk upgrade planning over verified repository indices (no apk-tools): which installed
 * packages go to which versions, and which packages are added, so that every dependency of the
 * result holds (`D:` atoms with versions, `so:`/`cmd:`/`pc:` and other `p:` provides).
 *
 * - `targets`: each vulnerable origin to the SMALLEST version that fixes it; `all`: every
 *   origin to the NEWEST version the repositories have (what `apk upgrade --available` picks
 *   when the repositories only move forward).
 * - All installed subpackages of an origin move together, to one version that exists for all.
 * - Dependencies are closed from the index: an installed package that must move goes to the
 *   smallest (targets) / newest (all) version that satisfies; a missing one is added from its
 *   best provider (provider priority `k:`, then the exact name, then the newest version).
 * - A package pinned in world (`name=version`) is held, not moved. The other constraints of
 *   world (`<`, `>`, `<=`, `>=`, `~`, `!name`; apk-world(5)) limit the candidates as apk's solver
 *   does with every world atom: an origin goes to the best version they allow, and is held when
 *   they allow no newer one.
 * - Unresolvable origins fail the plan (RESOLVE) or, with ignoreErrors, are left out and
 *   reported in `unresolved` while the rest is planned again.
 */
import { OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type {
  HeldPackage,
  Plan,
  PlanMode,
  PlannedNewPackage,
  PlannedUpdate,
  UnresolvedPackage,
  UpdateReason,
  UpgradeTarget,
} from "../../plan/types.js";
import type { ApkIndexEntry } from "./apkindex.js";
import { type ApkDependency, parseApkDependency } from "./config.js";
import { apkRecord } from "./record.js";
import type { ApkRepositoryIndex } from "./repositories.js";
import { compareApkVersions as cmp } from "./version.js";

interface ApkCandidate {
  readonly entry: ApkIndexEntry;
  readonly repo: ApkRepositoryIndex;
}

interface ApkPlanInput {
  readonly installed: readonly InstalledPackage[];
  readonly indices: readonly ApkRepositoryIndex[];
  readonly targets: readonly UpgradeTarget[];
  readonly mode: PlanMode;
  readonly ignoreErrors?: boolean | undefined;
  /** `/etc/apk/world`'s atoms (parseApkWorld); absent: no constraints. */
  readonly world?: readonly ApkDependency[] | undefined;
}

/** What a dependency is checked against: a package of the planned result. */
interface View {
  readonly name: string;
  readonly version: string;
  readonly depends: readonly string[];
  readonly provides: readonly string[];
}

/** Does `version` satisfy `op want` (apk-world(5) operators; `~` fuzzy = same version prefix)? */
export function apkVersionSatisfies(
  version: string,
  op: string | undefined,
  want: string | undefined,
): boolean {
  if (op === undefined || want === undefined) return true;
  if (op === "><") return true; // checksum pin: not a version constraint
  if (op === "~" || op === "=~" || op === "~=") {
    return version === want || (version.startsWith(want) && /^[._\-a-z]/.test(version[want.length] ?? ""));
  }
  const c = cmp(version, want);
  switch (op) {
    case "=":
      return c === 0;
    case "<":
      return c < 0;
    case ">":
      return c > 0;
    case "<=":
      return c <= 0;
    case ">=":
      return c >= 0;
    default:
      return false;
  }
}

function provideParts(p: string): { name: string; version: string | undefined } {
  const eq = p.indexOf("=");
  return eq < 0 ? { name: p, version: undefined } : { name: p.slice(0, eq), version: p.slice(eq + 1) };
}

/** Does package `v` satisfy the (non-conflict) dependency `d`? */
function viewSatisfies(v: View, d: ApkDependency): boolean {
  if (v.name === d.name && apkVersionSatisfies(v.version, d.op, d.version)) return true;
  return v.provides.some((p) => {
    const pp = provideParts(p);
    if (pp.name !== d.name) return false;
    if (d.op === undefined) return true;
    return pp.version !== undefined && apkVersionSatisfies(pp.version, d.op, d.version);
  });
}

const entryView = (e: ApkIndexEntry): View => e;

interface Chosen {
  readonly cand: ApkCandidate;
  reason: UpdateReason;
  readonly requiredBy: Set<string>;
}

class Failure {
  constructor(
    readonly origin: string,
    readonly pkg: string,
    readonly reason: string,
  ) {}
}

export function planApkUpgrades(input: ApkPlanInput): Plan {
  const byName = new Map<string, ApkCandidate[]>();
  const byProvide = new Map<string, ApkCandidate[]>();
  for (const repo of input.indices) {
    for (const entry of repo.entries) {
      const list = byName.get(entry.name) ?? [];
      if (list.some((c) => c.entry.version === entry.version)) continue; // the first repository wins
      list.push({ entry, repo });
      byName.set(entry.name, list);
      for (const p of entry.provides) {
        const pn = provideParts(p).name;
        const pl = byProvide.get(pn) ?? [];
        pl.push({ entry, repo });
        byProvide.set(pn, pl);
      }
    }
  }
  // world: the atoms on each name; `=` pins are the held packages (below), `><` checksums no limit
  const worldAtoms = new Map<string, ApkDependency[]>();
  for (const d of input.world ?? []) {
    if (!d.conflict && (d.op === undefined || d.op === "><")) continue;
    worldAtoms.set(d.name, [...(worldAtoms.get(d.name) ?? []), d]);
  }
  const atomText = (d: ApkDependency) => `${d.conflict ? "!" : ""}${d.name}${d.op ?? ""}${d.version ?? ""}`;
  /** The world atom that rules out `name` at `version`, if any. */
  const worldForbids = (name: string, version: string): ApkDependency | undefined =>
    worldAtoms.get(name)?.find((d) => d.conflict || !apkVersionSatisfies(version, d.op, d.version));
  const installedByName = new Map(input.installed.map((p) => [p.name, p]));
  const originOf = (p: InstalledPackage): string => apkRecord(p).origin ?? p.name;
  const byOrigin = new Map<string, InstalledPackage[]>();
  for (const p of input.installed) byOrigin.set(originOf(p), [...(byOrigin.get(originOf(p)) ?? []), p]);

  // goals: origin → minimum version (undefined: newest) and the vulnerability ids it fixes
  const goals = new Map<string, { min: string | undefined; ids: Set<string>; newest: boolean }>();
  if (input.mode === "all") {
    for (const origin of byOrigin.keys()) goals.set(origin, { min: undefined, ids: new Set(), newest: true });
  }
  for (const t of input.targets) {
    const origin =
      t.sourceName !== undefined && byOrigin.has(t.sourceName)
        ? t.sourceName
        : t.package !== undefined && installedByName.has(t.package)
          ? originOf(installedByName.get(t.package) as InstalledPackage)
          : undefined;
    if (origin === undefined) continue;
    const g = goals.get(origin) ?? { min: undefined, ids: new Set<string>(), newest: false };
    for (const id of t.vulnerabilityIds) g.ids.add(id);
    if (!g.newest) {
      if (t.fixedVersion === undefined) g.newest = true;
      else if (g.min === undefined || cmp(t.fixedVersion, g.min) > 0) g.min = t.fixedVersion;
    }
    goals.set(origin, g);
  }

  /** Versions (ascending) at which every installed subpackage of `origin` is available. */
  const originVersions = (origin: string): string[] => {
    const subs = byOrigin.get(origin) ?? [];
    let common: string[] | undefined;
    for (const s of subs) {
      const vs = (byName.get(s.name) ?? []).map((c) => c.entry.version);
      common = common === undefined ? vs : common.filter((v) => vs.includes(v));
    }
    return (common ?? []).sort(cmp);
  };
  const candidateOf = (name: string, version: string): ApkCandidate | undefined =>
    byName.get(name)?.find((c) => c.entry.version === version);

  const held: HeldPackage[] = [];
  const warnings: string[] = [];
  const excluded = new Map<string, Failure>();

  const attempt = (): { chosen: Map<string, Chosen>; added: Map<string, Chosen>; failures: Failure[] } => {
    const chosen = new Map<string, Chosen>();
    const added = new Map<string, Chosen>();
    const failures: Failure[] = [];
    const work: string[] = [];
    held.length = 0;

    /** Move every installed subpackage of `origin` to `version`. */
    const moveOrigin = (
      origin: string,
      version: string,
      reason: UpdateReason,
      by: string | undefined,
    ): boolean => {
      for (const s of byOrigin.get(origin) ?? []) {
        const prev = chosen.get(s.name);
        if (prev) {
          if (prev.cand.entry.version !== version) return false;
          if (by) prev.requiredBy.add(by);
          continue;
        }
        if (cmp(s.version, version) === 0) continue;
        const cand = candidateOf(s.name, version);
        if (!cand) return false;
        chosen.set(s.name, { cand, reason, requiredBy: new Set(by ? [by] : []) });
        work.push(s.name);
      }
      return true;
    };
    const isHeld = (origin: string) => (byOrigin.get(origin) ?? []).some((p) => p.held);

    for (const [origin, g] of goals) {
      if (excluded.has(origin)) continue;
      const subs = byOrigin.get(origin) ?? [];
      const current = subs.map((s) => s.version).sort(cmp)[0] as string;
      const versions = originVersions(origin).filter((v) => cmp(v, current) > 0);
      const pick = g.newest
        ? versions.at(-1)
        : versions.find((v) => g.min === undefined || cmp(v, g.min) >= 0);
      if (!g.newest && g.min !== undefined && subs.every((s) => cmp(s.version, g.min as string) >= 0))
        continue;
      if (pick === undefined) {
        if (input.mode === "all" && g.ids.size === 0) continue; // nothing newer: up to date
        const newest = (byName.get(subs[0]?.name ?? "") ?? [])
          .map((c) => c.entry.version)
          .sort(cmp)
          .at(-1);
        failures.push(
          new Failure(
            origin,
            subs[0]?.name ?? origin,
            g.min === undefined
              ? `no newer version of ${origin} in the repositories for all of its installed subpackages`
              : `no version >= ${g.min} of ${origin} in the repositories for all of its installed subpackages (newest: ${newest ?? "none"})`,
          ),
        );
        continue;
      }
      const hold = () => {
        for (const s of subs)
          held.push({
            package: s.name,
            architecture: s.architecture,
            installedVersion: s.version,
            candidateVersion: pick,
            vulnerabilityIds: [...g.ids],
          });
      };
      if (isHeld(origin)) {
        hold();
        continue;
      }
      // world's constraints on the subpackages: the best version they allow, else held
      const allowed = versions.filter((v) => subs.every((s) => worldForbids(s.name, v) === undefined));
      const allowedPick = g.newest
        ? allowed.at(-1)
        : allowed.find((v) => g.min === undefined || cmp(v, g.min) >= 0);
      if (allowedPick === undefined) {
        const by = subs.flatMap((s) => worldForbids(s.name, pick) ?? [])[0];
        hold();
        if (attempts === 1 && by)
          warnings.push(
            `${subs[0]?.name ?? origin}: ${pick} is not allowed by ${atomText(by)} in /etc/apk/world: held at ${current}`,
          );
        continue;
      }
      if (!moveOrigin(origin, allowedPick, "target", undefined))
        failures.push(
          new Failure(origin, subs[0]?.name ?? origin, `cannot move every subpackage to ${allowedPick}`),
        );
    }

    const finalViews = (): View[] => {
      const out: View[] = [];
      for (const p of input.installed) {
        const c = chosen.get(p.name);
        if (c) out.push(entryView(c.cand.entry));
        else {
          const r = apkRecord(p);
          out.push({ name: p.name, version: p.version, depends: r.depends, provides: r.provides });
        }
      }
      for (const a of added.values()) out.push(entryView(a.cand.entry));
      return out;
    };
    const pickVersion = (vs: string[]): string | undefined => (input.mode === "all" ? vs.at(-1) : vs[0]);

    while (work.length > 0) {
      const name = work.shift() as string;
      const c = chosen.get(name) ?? added.get(name);
      if (!c) continue;
      const e = c.cand.entry;
      const ownOrigin = e.origin;
      for (const atom of e.depends) {
        const fail = (reason: string) => failures.push(new Failure(ownOrigin, name, reason));
        let d: ApkDependency;
        try {
          d = parseApkDependency(atom, `${name} ${e.version}`);
        } catch (err) {
          fail((err as Error).message);
          continue;
        }
        const views = finalViews();
        if (d.conflict) {
          const hit = views.find((v) => v.name !== name && viewSatisfies(v, { ...d, conflict: false }));
          if (hit) fail(`${e.version} conflicts with ${hit.name} ${hit.version} (${atom})`);
          continue;
        }
        if (views.some((v) => viewSatisfies(v, d))) continue;
        const satisfying = [...(byName.get(d.name) ?? []), ...(byProvide.get(d.name) ?? [])].filter((x) =>
          viewSatisfies(entryView(x.entry), d),
        );
        const cands = satisfying.filter((x) => worldForbids(x.entry.name, x.entry.version) === undefined);
        if (cands.length === 0 && satisfying.length > 0) {
          const x = satisfying[0] as ApkCandidate;
          const by = worldForbids(x.entry.name, x.entry.version) as ApkDependency;
          fail(
            `needs ${atom}, but ${x.entry.name} is ${by.conflict ? "forbidden" : "limited"} by ${atomText(by)} in /etc/apk/world`,
          );
          continue;
        }
        // an installed package (or one already planned) that can move: move its whole origin
        const movable = cands.filter((x) => installedByName.has(x.entry.name));
        if (movable.length > 0) {
          const target = movable[0]?.entry.name as string;
          const inst = installedByName.get(target) as InstalledPackage;
          const origin = originOf(inst);
          if (excluded.has(origin)) {
            fail(`needs ${atom}, but ${origin} cannot be upgraded (${excluded.get(origin)?.reason})`);
            continue;
          }
          if (isHeld(origin)) {
            fail(`needs ${atom}, but ${target} is pinned in /etc/apk/world`);
            continue;
          }
          const ok = new Set(movable.filter((x) => x.entry.name === target).map((x) => x.entry.version));
          const versions = originVersions(origin).filter((v) => ok.has(v) && cmp(v, inst.version) > 0);
          const v = pickVersion(versions);
          if (v === undefined || !moveOrigin(origin, v, "dependency", name)) {
            fail(`needs ${atom}: no version of ${origin} satisfies it together with the rest of the plan`);
          }
          continue;
        }
        if (cands.length === 0) {
          fail(`needs ${atom}, which no repository provides`);
          continue;
        }
        const best = [...cands].sort(
          (a, b) =>
            (b.entry.providerPriority ?? 0) - (a.entry.providerPriority ?? 0) ||
            Number(b.entry.name === d.name) - Number(a.entry.name === d.name) ||
            cmp(b.entry.version, a.entry.version),
        )[0] as ApkCandidate;
        if (excluded.has(best.entry.origin)) {
          fail(
            `needs ${atom}, but ${best.entry.name} cannot be installed (${excluded.get(best.entry.origin)?.reason})`,
          );
          continue;
        }
        const prev = added.get(best.entry.name);
        if (prev) {
          prev.requiredBy.add(name);
          continue;
        }
        added.set(best.entry.name, { cand: best, reason: "dependency", requiredBy: new Set([name]) });
        work.push(best.entry.name);
      }
    }
    // packages that stay: their dependencies must still hold with the new versions
    const views = finalViews();
    for (const p of input.installed) {
      if (chosen.has(p.name)) continue;
      for (const atom of apkRecord(p).depends) {
        let d: ApkDependency;
        try {
          d = parseApkDependency(atom, p.name);
        } catch {
          continue;
        }
        if (d.conflict || views.some((v) => viewSatisfies(v, d))) continue;
        if (!views.some((v) => v.name === d.name || v.provides.some((x) => provideParts(x).name === d.name)))
          continue; // it did not hold before either
        const culprit = [...chosen.values()].find((c) => c.cand.entry.name === d.name)?.cand.entry.origin;
        failures.push(
          new Failure(
            culprit ?? originOf(p),
            p.name,
            `${p.name} ${p.version} needs ${atom}, which the planned versions no longer satisfy`,
          ),
        );
      }
    }
    return { chosen, added, failures };
  };

  let attempts = 1;
  let result = attempt();
  while (result.failures.length > 0) {
    attempts++;
    const f = result.failures[0] as Failure;
    if (!input.ignoreErrors)
      throw new OcipatchError(
        "RESOLVE",
        `cannot plan ${f.pkg}: ${f.reason}${result.failures.length > 1 ? ` (and ${result.failures.length - 1} more)` : ""}`,
      );
    for (const x of result.failures) if (!excluded.has(x.origin)) excluded.set(x.origin, x);
    result = attempt();
  }

  const idsOf = (origin: string) => [...(goals.get(origin)?.ids ?? [])];
  const artifact = (c: ApkCandidate) => {
    const e = c.entry;
    const filename = `${c.repo.arch}/${e.name}-${e.version}.apk`;
    return {
      suite: c.repo.url,
      suiteKind: "release" as const,
      component: c.repo.url.slice(c.repo.url.lastIndexOf("/") + 1),
      filename,
      url: `${c.repo.url}/${filename}`,
      size: e.size,
      sha256: "",
      checksum: e.checksum,
    };
  };
  const updates: PlannedUpdate[] = [];
  for (const p of input.installed) {
    const c = result.chosen.get(p.name);
    if (!c) continue;
    const e = c.cand.entry;
    updates.push({
      ...artifact(c.cand),
      package: p.name,
      name: p.name,
      architecture: p.architecture,
      installedArchitecture: p.architecture,
      installedVersion: p.version,
      targetVersion: e.version,
      sourceName: e.origin,
      sourceVersion: e.version,
      vulnerabilityIds: idsOf(originOf(p)),
      reason: c.reason,
      requiredBy: [...c.requiredBy].sort(),
    });
  }
  const newPackages: PlannedNewPackage[] = [...result.added.values()].map((c) => ({
    ...artifact(c.cand),
    package: c.cand.entry.name,
    name: c.cand.entry.name,
    architecture: c.cand.entry.architecture,
    targetVersion: c.cand.entry.version,
    sourceName: c.cand.entry.origin,
    sourceVersion: c.cand.entry.version,
    requiredBy: [...c.requiredBy].sort(),
  }));
  const unresolved: UnresolvedPackage[] = [];
  for (const [origin, f] of excluded) {
    for (const p of byOrigin.get(origin) ?? [{ name: f.pkg, architecture: undefined, version: undefined }])
      unresolved.push({
        package: p.name,
        architecture: p.architecture,
        installedVersion: p.version,
        reason: f.reason,
        vulnerabilityIds: idsOf(origin),
      });
  }
  return {
    mode: input.mode,
    updates,
    newPackages,
    held: [...held],
    unresolved,
    downloadSize: [...updates, ...newPackages].reduce((n, u) => n + u.size, 0),
    warnings,
  };
}
