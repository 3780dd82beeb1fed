import type { SuiteKind } from "../../../plan/suites.js";
import type { AvailablePackage, PackagesIndex } from "../apt/packages.js";

/** The packages the release's repositories offer, as the planner sees them. */
export interface PackageUniverse {
  /** Every available version of a binary package (all architectures, deduplicated). */
  versions(name: string): readonly AvailablePackage[];
  /** Available packages whose Provides names `name`. */
  providers(name: string): readonly AvailablePackage[];
  /**
   * False while some of the release's indices are not loaded (the large release index is
   * read only when needed): a miss is then not final, and the planner asks for more.
   */
  readonly complete: boolean;
}

const KIND_PREFERENCE: Record<SuiteKind, number> = {
  security: 0,
  updates: 1,
  release: 2,
  backports: 3,
  proposed: 4,
  other: 5,
};

/**
 * A universe over Packages indices. The same version in several suites (a security update
 * later folded into a point release) is one package; the security/updates copy is preferred.
 * Only suites with apt's default pin priority (500) offer candidates: NotAutomatic suites are left out.
 */
export function universeFromIndices(indices: readonly PackagesIndex[], complete: boolean): PackageUniverse {
  const usable = indices
    .filter((i) => i.origin.priority >= 500)
    .sort((a, b) => KIND_PREFERENCE[a.origin.kind] - KIND_PREFERENCE[b.origin.kind]);
  const memo = new Map<string, AvailablePackage[]>();
  const memoProv = new Map<string, AvailablePackage[]>();
  const dedupe = (all: AvailablePackage[]): AvailablePackage[] => {
    const seen = new Set<string>();
    return all.filter((p) => {
      const k = `${p.name}\0${p.architecture}\0${p.version}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  };
  return {
    complete,
    versions(name) {
      let v = memo.get(name);
      if (!v) {
        v = dedupe(usable.flatMap((i) => i.get(name)));
        memo.set(name, v);
      }
      return v;
    },
    providers(name) {
      let v = memoProv.get(name);
      if (!v) {
        v = dedupe(usable.flatMap((i) => i.providers(name)));
        memoProv.set(name, v);
      }
      return v;
    },
  };
}
