import type { MirrorConfig } from "../../../config/repositories.js";
import { OcipatchError } from "../../../errors.js";
import { debianCodename } from "../../../os/releases.js";
import type { OsInfo } from "../../../os/types.js";
import { PLANNED_KINDS, type SuiteKind } from "../../../plan/suites.js";
import { parseAptSources, type SignedBy, type SourceEntry, type SourceFile } from "./sources.js";

export type Distro = "debian" | "ubuntu";

/** The distribution release an image runs: what every repository must belong to. */
export interface ReleaseId {
  readonly distro: Distro;
  /** `bullseye`, `jammy`... */
  readonly codename: string;
}

/** One repository (archive + suite) to read indices from. */
export interface Repository {
  /** Archive root as the sources name it (or as derived), without trailing slash. */
  readonly uri: string;
  /** Archive root to download from, after mirror configuration. */
  readonly fetchUri: string;
  readonly suite: string;
  readonly kind: SuiteKind;
  readonly components: readonly string[];
  /** Architectures to read Packages indices for (the image's). */
  readonly architectures: readonly string[];
  readonly signedBy: SignedBy | undefined;
  /** The entry came from the host's sources: its Signed-By paths name host files. */
  readonly keysFromFallback: boolean;
  readonly checkValidUntil: boolean | undefined;
  /** The release codename every Release file of this repository must declare. */
  readonly codename: string;
  /** Added by convention (missing -security/-updates), not listed by the image. */
  readonly derived: boolean;
  /** Where it came from, for messages (`/etc/apt/sources.list:2`, `derived from ...`). */
  readonly origin: string;
}

/** The host's apt configuration, for images without sources of their own (distroless). */
export interface HostAptSources {
  readonly sources: readonly SourceFile[];
  readonly os: { readonly id: string; readonly codename: string | undefined };
}

export interface DeriveOptions {
  readonly os: Pick<OsInfo, "id" | "idLike" | "codename" | "versionId">;
  /** The image's Debian architecture (from the image config). */
  readonly architecture: string;
  /** Other architectures with packages installed (dpkg --add-architecture). */
  readonly foreignArchitectures?: readonly string[];
  /** The image's apt sources files (`/etc/apt/sources.list`, `/etc/apt/sources.list.d/*`). */
  readonly sources: readonly SourceFile[];
  readonly host?: HostAptSources | undefined;
  readonly mirrors?: MirrorConfig | undefined;
}

export interface DerivedRepositories {
  readonly release: ReleaseId;
  readonly repositories: Repository[];
  /** Where the archive URLs came from. */
  readonly sourcesFrom: "image" | "mirror" | "host";
  readonly warnings: string[];
}

/** Debian releases whose security suite is `<codename>/updates` (before bullseye). */
const OLD_SECURITY_LAYOUT = new Set(["wheezy", "jessie", "stretch", "buster"]);
const COMPONENTS: Record<Distro, readonly string[]> = {
  debian: ["main", "contrib", "non-free", "non-free-firmware"],
  ubuntu: ["main", "restricted", "universe", "multiverse"],
};
const DEFAULT_COMPONENTS: Record<Distro, readonly string[]> = {
  debian: ["main"],
  ubuntu: ["main", "restricted", "universe", "multiverse"],
};
const ALIASES = new Set(["stable", "oldstable", "oldoldstable", "testing", "unstable"]);
/** Which Debian/Ubuntu release does the image run? */
export function releaseOf(os: DeriveOptions["os"]): ReleaseId {
  const ids = [os.id, ...os.idLike].map((x) => x.toLowerCase());
  const distro: Distro | undefined = ids.includes("ubuntu")
    ? "ubuntu"
    : ids.includes("debian")
      ? "debian"
      : undefined;
  if (!distro)
    throw new OcipatchError("UNSUPPORTED", `apt repositories: "${os.id}" is neither Debian nor Ubuntu`);
  let codename = os.codename?.trim().toLowerCase();
  if (!codename && distro === "debian" && os.versionId) codename = debianCodename(os.versionId);
  if (!codename) {
    throw new OcipatchError(
      "UNSUPPORTED",
      `cannot tell which ${distro} release the image runs (no VERSION_CODENAME)`,
    );
  }
  return { distro, codename };
}

export function securitySuite(release: ReleaseId): string {
  return release.distro === "debian" && OLD_SECURITY_LAYOUT.has(release.codename)
    ? `${release.codename}/updates`
    : `${release.codename}-security`;
}

/** What a suite is to a release (undefined: another release or not a distribution suite). */
export function classifySuite(suite: string, codename: string): SuiteKind | undefined {
  for (const base of [codename, ...ALIASES]) {
    if (suite === base) return "release";
    if (suite === `${base}-security` || suite === `${base}/updates`) return "security";
    if (suite === `${base}-updates`) return "updates";
    if (suite === `${base}-backports` || suite === `${base}-backports-sloppy`) return "backports";
    if (suite === `${base}-proposed` || suite === `${base}-proposed-updates`) return "proposed";
  }
  return undefined;
}

/**
 * Debian's security archive lives beside the main one: `…/debian` → `…/debian-security`
 * (also inside snapshot-style paths such as `…/archive/debian/20240101T000000Z`).
 */
export function debianSecuritySibling(mainUri: string): string {
  const u = new URL(mainUri);
  const segs = u.pathname.replace(/\/+$/, "").split("/");
  let i = segs.lastIndexOf("debian");
  if (i === -1) i = segs.length - 1;
  segs[i] = segs[i] === "debian" ? "debian-security" : `${segs[i]}-security`;
  u.pathname = segs.join("/");
  return u.toString().replace(/\/+$/, "");
}

/** Apply the longest matching `rewrites` prefix. */
export function rewriteUri(uri: string, rewrites: MirrorConfig["rewrites"]): string {
  if (!rewrites) return uri;
  let best: [string, string] | undefined;
  const withSlash = `${uri}/`;
  for (const [from, to] of Object.entries(rewrites)) {
    const f = from.replace(/\/+$/, "");
    if (withSlash.startsWith(`${f}/`) && (!best || f.length > best[0].length))
      best = [f, to.replace(/\/+$/, "")];
  }
  return best ? best[1] + uri.slice(best[0].length) : uri;
}

interface Draft {
  uri: string;
  fetchUri: string;
  suite: string;
  kind: SuiteKind;
  components: string[];
  signedBy: SignedBy | undefined;
  keysFromFallback: boolean;
  checkValidUntil: boolean | undefined;
  derived: boolean;
  origin: string;
}

const KIND_ORDER: Record<SuiteKind, number> = {
  security: 0,
  updates: 1,
  release: 2,
  backports: 3,
  proposed: 4,
  other: 5,
};

/**
 * The repositories ocipatch reads for an image: its own apt sources for its release, plus
 * the `-security` and `-updates` suites when missing (by the distribution's conventions);
 * `--mirror` replaces the archives; images without sources use the mirror, else the host's
 * archives when the host runs the same distribution.
 */
export function deriveRepositories(opts: DeriveOptions): DerivedRepositories {
  const release = releaseOf(opts.os);
  const { codename, distro } = release;
  const warnings: string[] = [];
  const parsed = parseAptSources(opts.sources);
  warnings.push(...parsed.warnings);
  const mirrors = opts.mirrors ?? {};
  const arches = [opts.architecture, ...(opts.foreignArchitectures ?? [])].filter(
    (a, i, all) => all.indexOf(a) === i,
  );

  const fromEntries = (
    entries: readonly SourceEntry[],
    fromHost: boolean,
    suiteCodename: string,
  ): Draft[] => {
    const out: Draft[] = [];
    for (const e of entries) {
      if (e.type !== "deb") continue;
      const kind = classifySuite(e.suite, suiteCodename);
      const comps = e.components.filter((c) => COMPONENTS[distro].includes(c));
      if (kind === undefined || comps.length === 0) {
        warnings.push(`${e.origin}: ignored ${e.uri} ${e.suite} (not a suite of ${distro} ${suiteCodename})`);
        continue;
      }
      if (!PLANNED_KINDS.includes(kind)) {
        warnings.push(`${e.origin}: ignored ${e.suite} (${kind} suites are not used for security updates)`);
        continue;
      }
      if (e.architectures && !arches.some((a) => e.architectures!.includes(a))) {
        warnings.push(`${e.origin}: ignored ${e.suite} (restricted to ${e.architectures.join(",")})`);
        continue;
      }
      if (e.trusted === true) {
        warnings.push(`${e.origin}: trusted=yes ignored: ocipatch always verifies signatures`);
      }
      out.push({
        uri: e.uri,
        fetchUri: e.uri,
        suite: e.suite,
        kind,
        components: comps,
        signedBy: e.signedBy,
        keysFromFallback: fromHost,
        checkValidUntil: e.checkValidUntil,
        derived: false,
        origin: e.origin,
      });
    }
    return out;
  };

  let drafts = fromEntries(parsed.entries, false, codename);
  let sourcesFrom: DerivedRepositories["sourcesFrom"] = "image";

  if (mirrors.mirror) {
    const mirror = mirrors.mirror.replace(/\/+$/, "");
    const secMirror = (mirrors.securityMirror ?? mirrors.mirror).replace(/\/+$/, "");
    if (drafts.length === 0) {
      sourcesFrom = "mirror";
      const comps = [...DEFAULT_COMPONENTS[distro]];
      const mk = (uri: string, suite: string, kind: SuiteKind): Draft => ({
        uri,
        fetchUri: uri,
        suite,
        kind,
        components: comps,
        signedBy: undefined,
        keysFromFallback: false,
        checkValidUntil: undefined,
        derived: true,
        origin: "mirror option",
      });
      drafts = [mk(mirror, codename, "release"), mk(mirror, `${codename}-updates`, "updates")];
      if (codename !== "sid") drafts.push(mk(secMirror, securitySuite(release), "security"));
    } else {
      for (const d of drafts) d.fetchUri = d.kind === "security" ? secMirror : mirror;
    }
  } else if (drafts.length === 0) {
    const host = opts.host;
    if (host && host.os.id.toLowerCase() === distro && host.os.codename) {
      const hostParsed = parseAptSources(host.sources);
      const hostDrafts = fromEntries(hostParsed.entries, true, host.os.codename.toLowerCase());
      const hostMain = hostDrafts.find((d) => d.kind === "release");
      const hostSec = hostDrafts.find((d) => d.kind === "security");
      if (hostMain) {
        sourcesFrom = "host";
        warnings.push(
          `the image has no apt sources: using the host's ${distro} archive ${hostMain.uri} for ${codename}`,
        );
        drafts = [{ ...hostMain, suite: codename, origin: `host ${hostMain.origin}`, derived: true }];
        if (hostSec && codename !== "sid") {
          drafts.push({
            ...hostSec,
            suite: securitySuite(release),
            origin: `host ${hostSec.origin}`,
            derived: true,
          });
        }
      }
    }
    if (drafts.length === 0) {
      throw new OcipatchError(
        "USAGE",
        `the image has no apt sources for ${distro} ${codename} (distroless?): give a mirror URL (option or config file)`,
        { details: { option: "mirror" } },
      );
    }
  }

  // add the release's -security and -updates suites when the sources lack them
  const main = drafts.find((d) => d.kind === "release") ?? drafts.find((d) => d.kind === "updates");
  if (main && codename !== "sid") {
    const mainComps = [...new Set(drafts.filter((d) => d.uri === main.uri).flatMap((d) => d.components))];
    const add = (kind: SuiteKind, uri: string, fetchUri: string, suite: string): void => {
      if (drafts.some((d) => d.kind === kind)) return;
      drafts.push({
        uri,
        fetchUri,
        suite,
        kind,
        components: mainComps,
        signedBy: main.signedBy,
        keysFromFallback: main.keysFromFallback,
        checkValidUntil: main.checkValidUntil,
        derived: true,
        origin: `derived from ${main.origin}`,
      });
    };
    if (distro === "debian") {
      const secUri = debianSecuritySibling(main.uri);
      const secFetch =
        mirrors.mirror !== undefined
          ? (mirrors.securityMirror ?? mirrors.mirror).replace(/\/+$/, "")
          : main.fetchUri === main.uri
            ? secUri
            : debianSecuritySibling(main.fetchUri);
      add("security", secUri, secFetch, securitySuite(release));
    } else {
      add("security", main.uri, main.fetchUri, securitySuite(release));
    }
    add("updates", main.uri, main.fetchUri, `${codename}-updates`);
  }

  // merge entries naming the same archive and suite (one-line sources list one component per line)
  const merged = new Map<string, Draft>();
  for (const d of drafts) {
    const key = `${d.fetchUri} ${d.suite}`;
    const prev = merged.get(key);
    if (prev) {
      for (const c of d.components) if (!prev.components.includes(c)) prev.components.push(c);
    } else merged.set(key, { ...d, components: [...d.components] });
  }
  const repositories: Repository[] = [...merged.values()]
    .map((d) => ({
      uri: d.uri,
      fetchUri: rewriteUri(d.fetchUri, mirrors.rewrites),
      suite: d.suite,
      kind: d.kind,
      components: d.components,
      architectures: arches,
      signedBy: d.signedBy,
      keysFromFallback: d.keysFromFallback,
      checkValidUntil: d.checkValidUntil,
      codename,
      derived: d.derived,
      origin: d.origin,
    }))
    .sort(
      (a, b) =>
        KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
        (a.fetchUri < b.fetchUri ? -1 : a.fetchUri > b.fetchUri ? 1 : 0) ||
        (a.suite < b.suite ? -1 : a.suite > b.suite ? 1 : 0),
    );
  return { release, repositories, sourcesFrom, warnings };
}
