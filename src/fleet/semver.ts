/**
 * Tag versions as copa orders them (Masterminds/semver's lenient parse): an optional `v`,
 * one to three numeric parts (missing ones are 0, leading zeros allowed), an optional `-prerelease` and `+build`.
 * `22.04`, `1.25`, `v3.19.1` and `1.2.3-rc.1` parse; `bookworm-slim` and `latest` do not.
 */
interface TagVersion {
  readonly numbers: readonly [bigint, bigint, bigint];
  readonly prerelease: readonly string[];
}

const VERSION_RE =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export function parseTagVersion(tag: string): TagVersion | undefined {
  const m = VERSION_RE.exec(tag);
  if (!m) return undefined;
  return {
    numbers: [BigInt(m[1]!), BigInt(m[2] ?? "0"), BigInt(m[3] ?? "0")],
    prerelease: m[4] === undefined ? [] : m[4].split("."),
  };
}

function compareIdentifiers(a: string, b: string): number {
  const an = /^\d+$/.test(a);
  const bn = /^\d+$/.test(b);
  if (an && bn) return BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
  if (an) return -1;
  if (bn) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** SemVer 2.0.0 precedence (a release sorts after its prereleases). */
export function compareTagVersions(a: TagVersion, b: TagVersion): number {
  for (let i = 0; i < 3; i++) {
    const x = a.numbers[i]!;
    const y = b.numbers[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return b.prerelease.length - a.prerelease.length === 0 ? 0 : a.prerelease.length === 0 ? 1 : -1;
  }
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const c = compareIdentifiers(a.prerelease[i]!, b.prerelease[i]!);
    if (c !== 0) return c;
  }
  return a.prerelease.length - b.prerelease.length;
}
