/**
 * Alpine package versions (apk-tools' version.c algorithm): numeric components
 * separated by dots (leading zeros compared as fractions), an optional letter,
 * suffixes (`_alpha` < `_beta` < `_pre` < `_rc` < none < `_cvs` < `_svn` <
 * `_git` < `_hg` < `_p`) each with an optional number, then `-rN`.
 */

enum Tok {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE_SUFFIXES = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES = ["cvs", "svn", "git", "hg", "p"];

class Cursor {
  type: Tok = Tok.Digit;
  pos = 0;
  constructor(readonly s: string) {}
  get left(): number {
    return this.s.length - this.pos;
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isLower = (c: string | undefined): boolean => c !== undefined && c >= "a" && c <= "z";

function nextToken(c: Cursor): void {
  let n: Tok = Tok.Invalid;
  const ch = c.s[c.pos];
  if (c.left <= 0) n = Tok.End;
  else if ((c.type === Tok.Digit || c.type === Tok.DigitOrZero) && isLower(ch)) n = Tok.Letter;
  else if (c.type === Tok.Letter && isDigit(ch)) n = Tok.Digit;
  else if (c.type === Tok.Suffix && isDigit(ch)) n = Tok.SuffixNo;
  else {
    if (ch === ".") n = Tok.DigitOrZero;
    else if (ch === "_") n = Tok.Suffix;
    else if (ch === "-") {
      if (c.left > 1 && c.s[c.pos + 1] === "r") {
        n = Tok.RevisionNo;
        c.pos++;
      }
    }
    c.pos++;
  }
  if (n < c.type) {
    const allowed =
      (n === Tok.DigitOrZero && c.type === Tok.Digit) ||
      (n === Tok.Suffix && c.type === Tok.SuffixNo) ||
      (n === Tok.Digit && c.type === Tok.Letter);
    if (!allowed) n = Tok.Invalid;
  }
  c.type = n;
}

function getToken(c: Cursor): number {
  if (c.left <= 0) {
    c.type = Tok.End;
    return 0;
  }
  let v = 0;
  let i = 0;
  let nt: Tok = Tok.Invalid;
  const s = c.s;
  const p = c.pos;
  switch (c.type) {
    case Tok.DigitOrZero:
    case Tok.Digit:
    case Tok.SuffixNo:
    case Tok.RevisionNo:
      if (c.type === Tok.DigitOrZero && s[p] === "0") {
        // leading zeros after a dot: compared as a fraction (fewer zeros is greater)
        while (i < c.left && s[p + i] === "0") i++;
        nt = Tok.Digit;
        v = -i;
        break;
      }
      while (i < c.left && isDigit(s[p + i])) {
        v = v * 10 + (s.charCodeAt(p + i) - 48);
        i++;
      }
      break;
    case Tok.Letter:
      v = s.charCodeAt(p);
      i = 1;
      break;
    case Tok.Suffix: {
      const rest = s.slice(p);
      const pre = PRE_SUFFIXES.findIndex((x) => rest.startsWith(x));
      if (pre !== -1) {
        i = PRE_SUFFIXES[pre]!.length;
        v = pre - PRE_SUFFIXES.length;
        break;
      }
      const post = POST_SUFFIXES.findIndex((x) => rest.startsWith(x));
      if (post !== -1) {
        i = POST_SUFFIXES[post]!.length;
        v = post;
        break;
      }
      c.type = Tok.Invalid;
      return -1;
    }
    default:
      c.type = Tok.Invalid;
      return -1;
  }
  c.pos += i;
  if (c.left <= 0) c.type = Tok.End;
  else if (nt !== Tok.Invalid) c.type = nt;
  else nextToken(c);
  return v;
}

/** Compare two apk versions: negative, zero or positive like `apk version -t`. */
export function compareApkVersions(a: string, b: string): number {
  const ca = new Cursor(a.trim());
  const cb = new Cursor(b.trim());
  let av = 0;
  let bv = 0;
  while (ca.type === cb.type && ca.type !== Tok.End && ca.type !== Tok.Invalid && av === bv) {
    av = getToken(ca);
    bv = getToken(cb);
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  if (ca.type === cb.type) return 0;
  if (ca.type === Tok.Suffix) {
    const t = new Cursor(ca.s);
    t.pos = ca.pos;
    t.type = ca.type;
    if (getToken(t) < 0) return -1;
  }
  if (cb.type === Tok.Suffix) {
    const t = new Cursor(cb.s);
    t.pos = cb.pos;
    t.type = cb.type;
    if (getToken(t) < 0) return 1;
  }
  if (ca.type > cb.type) return -1;
  if (cb.type > ca.type) return 1;
  return 0;
}

/** True when `v` parses as an apk version to the end. */
export function isValidApkVersion(v: string): boolean {
  const c = new Cursor(v);
  if (!isDigit(v[0])) return false;
  while (c.type !== Tok.End && c.type !== Tok.Invalid) getToken(c);
  return c.type === Tok.End;
}
