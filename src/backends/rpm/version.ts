/**
 * RPM version ordering: `rpmvercmp` on one version or release string, and the comparison
 * of whole `[epoch:]version[-release]` strings as `rpm.vercmp` (rpm 4.18) does it.
 * Written from rpm's documented algorithm; the tests check it against the real `rpm`.
 */

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isAlpha = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const TILDE = 0x7e;
const CARET = 0x5e;
/** End of input (charCodeAt past the end is NaN; NUL never occurs in rpm strings). */
const END = 0;

/**
 * rpm's segmented compare of two version (or release) strings: <0, 0, >0.
 * Runs of ASCII digits compare numerically, runs of ASCII letters by byte; a numeric run is newer
 * than a letter run; everything else separates runs. `~` sorts before anything (even the end),
 * `^` after the end but before anything else.
 */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : END);
  const isSep = (c: number): boolean => c !== END && !isDigit(c) && !isAlpha(c) && c !== TILDE && c !== CARET;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (isSep(at(a, i))) i++;
    while (isSep(at(b, j))) j++;
    const x = at(a, i);
    const y = at(b, j);
    if (x === TILDE || y === TILDE) {
      if (x !== TILDE) return 1;
      if (y !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    if (x === CARET || y === CARET) {
      if (x === END) return -1;
      if (y === END) return 1;
      if (x !== CARET) return 1;
      if (y !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (x === END || y === END) break;
    const numeric = isDigit(x);
    const inRun = numeric ? isDigit : isAlpha;
    let ie = i;
    let je = j;
    while (inRun(at(a, ie))) ie++;
    while (inRun(at(b, je))) je++;
    // b has a run of the other kind here: numbers are newer than letters.
    if (je === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ie);
    let sb = b.slice(j, je);
    if (numeric) {
      sa = sa.replace(/^0+/, "");
      sb = sb.replace(/^0+/, "");
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ie;
    j = je;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

/** An RPM version split into its parts (epoch and release undefined when absent). */
interface Evr {
  readonly epoch: string | undefined;
  readonly version: string;
  readonly release: string | undefined;
}

/**
 * Split `[epoch:]version[-release]` as rpm does: the epoch is the leading digits when a `:`
 * follows them (an empty epoch is "0"), the release what follows the last `-`.
 */
export function parseEvr(evr: string): Evr {
  let rest = evr;
  let epoch: string | undefined;
  const m = /^[0-9]*:/.exec(rest);
  if (m) {
    epoch = m[0].length === 1 ? "0" : m[0].slice(0, -1);
    rest = rest.slice(m[0].length);
  }
  const dash = rest.lastIndexOf("-");
  if (dash < 0) return { epoch, version: rest, release: undefined };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

/** Format epoch, version and release as `[E:]V-R` (epoch left out when absent). */
export function formatEvr(evr: Evr): string {
  return `${evr.epoch === undefined ? "" : `${evr.epoch}:`}${evr.version}${evr.release === undefined ? "" : `-${evr.release}`}`;
}

/**
 * Compare two EVRs as `rpm.vercmp` does: epochs (absent = 0), then versions, then releases;
 * when only one side has a release, that side is newer.
 */
function compareEvr(a: Evr, b: Evr): number {
  const e = rpmvercmp(a.epoch ?? "0", b.epoch ?? "0");
  if (e !== 0) return e;
  const v = rpmvercmp(a.version, b.version);
  if (v !== 0) return v;
  if (a.release === undefined || b.release === undefined) {
    if (a.release === b.release) return 0;
    return a.release === undefined ? -1 : 1;
  }
  return rpmvercmp(a.release, b.release);
}

/** Compare two `[E:]V-R` strings: <0, 0, >0. */
export function compareRpmVersions(a: string, b: string): number {
  return compareEvr(parseEvr(a), parseEvr(b));
}
