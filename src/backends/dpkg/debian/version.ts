import { OcipatchError } from "../../../errors.js";

/**
 * Debian package versions (Debian Policy 5.6.12): [epoch:]upstream[-revision],
 * compared the way dpkg does (verrevcmp), `~` sorting before everything.
 */
interface DebianVersion {
  readonly epoch: number;
  readonly upstream: string;
  readonly revision: string;
}

const VALID_RE = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$/;

/** Parse a version string; lenient like dpkg for comparison purposes, strict on gross errors. */
export function parseDebianVersion(s: string): DebianVersion {
  const v = s.trim();
  if (v === "" || /\s/.test(v)) throw new OcipatchError("INVALID_FORMAT", `invalid Debian version "${s}"`);
  let epoch = 0;
  let rest = v;
  const colon = v.indexOf(":");
  if (colon !== -1) {
    const e = v.slice(0, colon);
    if (!/^\d+$/.test(e)) throw new OcipatchError("INVALID_FORMAT", `invalid epoch in Debian version "${s}"`);
    epoch = Number.parseInt(e, 10);
    rest = v.slice(colon + 1);
  }
  const dash = rest.lastIndexOf("-");
  const upstream = dash === -1 ? rest : rest.slice(0, dash);
  const revision = dash === -1 ? "" : rest.slice(dash + 1);
  if (upstream === "") throw new OcipatchError("INVALID_FORMAT", `empty upstream version in "${s}"`);
  return { epoch, upstream, revision };
}

/** True when the string is a syntactically valid Debian version per Policy. */
export function isValidDebianVersion(s: string): boolean {
  return VALID_RE.test(s);
}

function order(c: number): number {
  // c is a char code or NaN at end of string
  if (Number.isNaN(c)) return 0;
  if (c >= 48 && c <= 57) return 0; // digit
  if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return c; // letter
  if (c === 126) return -1; // ~
  return c + 256;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** dpkg's verrevcmp: compare upstream or revision parts. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(i < a.length ? a.charCodeAt(i) : Number.NaN);
      const bc = order(j < b.length ? b.charCodeAt(j) : Number.NaN);
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Compare two Debian versions: negative, zero or positive like dpkg --compare-versions. */
export function compareDebianVersions(a: string | DebianVersion, b: string | DebianVersion): number {
  const va = typeof a === "string" ? parseDebianVersion(a) : a;
  const vb = typeof b === "string" ? parseDebianVersion(b) : b;
  if (va.epoch !== vb.epoch) return va.epoch > vb.epoch ? 1 : -1;
  const u = verrevcmp(va.upstream, vb.upstream);
  if (u !== 0) return Math.sign(u);
  return Math.sign(verrevcmp(va.revision, vb.revision));
}

export type VersionRelation = "<<" | "<=" | "=" | ">=" | ">>";

/** Does `version` satisfy `relation reference` (e.g. ">= 1.2-3")? */
export function satisfiesRelation(version: string, relation: VersionRelation, reference: string): boolean {
  const c = compareDebianVersions(version, reference);
  switch (relation) {
    case "<<":
      return c < 0;
    case "<=":
      return c <= 0;
    case "=":
      return c === 0;
    case ">=":
      return c >= 0;
    case ">>":
      return c > 0;
  }
}
