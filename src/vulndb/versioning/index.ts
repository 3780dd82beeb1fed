import { backendById } from "../../backends/registry.js";
import { OcipatchError } from "../../errors.js";
import { schemeOf, type VersionScheme } from "../namespace.js";
import type { Namespace } from "../types.js";

/** Orders versions of one namespace. */
export interface VersionComparator {
  readonly scheme: VersionScheme;
  compare(a: string, b: string): number;
  isValid(v: string): boolean;
}

/** The version order of a namespace: that of the package format its distribution uses. */
export function comparatorFor(namespace: Namespace): VersionComparator {
  const scheme = schemeOf(namespace);
  const backend = scheme === undefined ? undefined : backendById(scheme);
  if (!backend)
    throw new OcipatchError("INTERNAL", `no package format orders the versions of namespace ${namespace}`);
  return { scheme: backend.id, compare: backend.compareVersions, isValid: backend.isValidVersion };
}
