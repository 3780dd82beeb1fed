import { compareDebianVersions, parseDebianVersion } from "../../backends/dpkg/debian/version.js";
import { compareRpmVersions } from "../../backends/rpm/version.js";
import { schemeOf, type VersionScheme } from "../namespace.js";
import type { Namespace } from "../types.js";
import { compareApkVersions, isValidApkVersion } from "./apk.js";

export { compareApkVersions, isValidApkVersion };

/** Orders versions of one namespace. */
export interface VersionComparator {
  readonly scheme: VersionScheme;
  compare(a: string, b: string): number;
  isValid(v: string): boolean;
}

const dpkg: VersionComparator = {
  scheme: "dpkg",
  compare: (a, b) => compareDebianVersions(a, b),
  isValid: (v) => {
    try {
      parseDebianVersion(v);
      return /^[0-9]/.test(v.includes(":") ? v.slice(v.indexOf(":") + 1) : v);
    } catch {
      return false;
    }
  },
};

const apk: VersionComparator = { scheme: "apk", compare: compareApkVersions, isValid: isValidApkVersion };

/** `[E:]V[-R]`: an optional numeric epoch, then a version starting with a letter or digit, no blanks. */
const RPM_EVR = /^(?:\d+:)?[A-Za-z0-9][^\s:]*$/;

const rpm: VersionComparator = {
  scheme: "rpm",
  compare: compareRpmVersions,
  isValid: (v) => RPM_EVR.test(v),
};

export function comparatorFor(namespace: Namespace): VersionComparator {
  const scheme = schemeOf(namespace);
  return scheme === "apk" ? apk : scheme === "rpm" ? rpm : dpkg;
}
