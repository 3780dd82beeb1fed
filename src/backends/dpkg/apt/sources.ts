import { OcipatchError } from "../../../errors.js";
import { parseParagraphs } from "../debian/deb822.js";

/**
 * apt sources (sources.list(5)): the one-line format of `/etc/apt/sources.list` and
 * `sources.list.d/*.list`, and the deb822 format of `sources.list.d/*.sources`.
 * Parsed from file CONTENTS: the caller reads them from the image (or the host).
 */

/** A file given by its path (in the image or on the host) and its content. */
export interface SourceFile {
  readonly path: string;
  readonly content: string | Uint8Array;
}

/** What `signed-by=` / `Signed-By:` names: keyring files, key fingerprints, or an inline key block. */
export interface SignedBy {
  readonly paths: readonly string[];
  /** Fingerprints (or long key ids) selecting keys of the default keyrings. */
  readonly fingerprints: readonly string[];
  /** An ASCII-armored public key block embedded in a deb822 `.sources` file. */
  readonly inline: string | undefined;
}

/** One repository line: one URI, one suite, its components. */
export interface SourceEntry {
  readonly type: "deb" | "deb-src";
  /** Archive root, without trailing slash (`http://deb.debian.org/debian`). */
  readonly uri: string;
  /** `bookworm`, `bookworm-security`, `buster/updates`, or a flat-repository path ending in `/`. */
  readonly suite: string;
  /** Empty for flat repositories. */
  readonly components: readonly string[];
  /** `arch=` / `Architectures:` restriction, when given. */
  readonly architectures: readonly string[] | undefined;
  readonly signedBy: SignedBy | undefined;
  /** `trusted=yes`: apt skips signature checks. ocipatch refuses unsigned data regardless (see repositories). */
  readonly trusted: boolean | undefined;
  /** `check-valid-until=no` */
  readonly checkValidUntil: boolean | undefined;
  /** Where it was read from, for messages. */
  readonly origin: string;
}

export interface ParsedSources {
  readonly entries: SourceEntry[];
  readonly warnings: string[];
}

const text = (c: string | Uint8Array): string =>
  typeof c === "string" ? c : Buffer.from(c).toString("utf8");

/** Parse every apt sources file; files apt would ignore (other extensions) are skipped with a warning. */
export function parseAptSources(files: readonly SourceFile[]): ParsedSources {
  const entries: SourceEntry[] = [];
  const warnings: string[] = [];
  const sorted = [...files].sort(
    (a, b) => sourceFileOrder(a.path) - sourceFileOrder(b.path) || cmp(a.path, b.path),
  );
  for (const f of sorted) {
    const base = f.path.split("/").pop() ?? f.path;
    if (base.endsWith(".sources")) entries.push(...parseDeb822Sources(text(f.content), f.path));
    else if (base.endsWith(".list")) entries.push(...parseSourcesList(text(f.content), f.path));
    else warnings.push(`${f.path}: ignored (apt reads only *.list and *.sources files)`);
  }
  return { entries, warnings };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** apt reads sources.list first, then sources.list.d in alphanumeric order. */
function sourceFileOrder(path: string): number {
  return path.endsWith("/sources.list") || path === "sources.list" ? 0 : 1;
}

function normaliseUri(uri: string, where: string): string {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) {
    throw new OcipatchError("INVALID_FORMAT", `${where}: "${uri}" is not a URI`);
  }
  return uri.replace(/\/+$/, "");
}

function parseBool(v: string, where: string): boolean {
  const s = v.trim().toLowerCase();
  if (["yes", "true", "with", "on", "enable"].includes(s)) return true;
  if (["no", "false", "without", "off", "disable"].includes(s)) return false;
  throw new OcipatchError("INVALID_FORMAT", `${where}: "${v}" is not a boolean`);
}

/** `signed-by` value: comma/space separated paths and fingerprints, or an inline armored block. */
export function parseSignedBy(value: string): SignedBy {
  const v = value.trim();
  if (v.includes("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
    // deb822 folds empty lines of the block as " ."; restore them
    const armored = v
      .split("\n")
      .map((l) => (l.trim() === "." ? "" : l.trim()))
      .join("\n");
    return { paths: [], fingerprints: [], inline: `${armored}\n` };
  }
  const paths: string[] = [];
  const fingerprints: string[] = [];
  for (const item of v.split(/[\s,]+/).filter((x) => x !== "")) {
    // apt accepts fingerprints with an optional trailing "!" (exact key, no subkeys)
    if (/^(0x)?[0-9a-f]{16,40}!?$/i.test(item)) fingerprints.push(item.replace(/^0x/i, "").toUpperCase());
    else paths.push(item);
  }
  return { paths, fingerprints, inline: undefined };
}

interface Options {
  architectures?: string[];
  signedBy?: SignedBy;
  trusted?: boolean;
  checkValidUntil?: boolean;
}

/** One-line format: `deb [ opt=val ... ] uri suite [component...]`, `#` comments. */
export function parseSourcesList(content: string, path = "sources.list"): SourceEntry[] {
  const out: SourceEntry[] = [];
  const lines = content.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const where = `${path}:${n + 1}`;
    const hash = lines[n]!.indexOf("#");
    const line = (hash === -1 ? lines[n]! : lines[n]!.slice(0, hash)).trim();
    if (line === "") continue;
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new OcipatchError("INVALID_FORMAT", `${where}: malformed line "${line.slice(0, 80)}"`);
    const type = m[1]!;
    if (type !== "deb" && type !== "deb-src") {
      throw new OcipatchError("INVALID_FORMAT", `${where}: unknown type "${type}" (expected deb or deb-src)`);
    }
    let rest = m[2]!.trim();
    const opts: Options = {};
    if (rest.startsWith("[")) {
      const close = rest.indexOf("]");
      if (close === -1) throw new OcipatchError("INVALID_FORMAT", `${where}: unclosed "[" in options`);
      for (const opt of rest
        .slice(1, close)
        .trim()
        .split(/\s+/)
        .filter((x) => x !== "")) {
        applyOption(opts, opt, where);
      }
      rest = rest.slice(close + 1).trim();
    }
    const words = rest.split(/\s+/).filter((x) => x !== "");
    if (words.length < 2)
      throw new OcipatchError("INVALID_FORMAT", `${where}: expected "URI SUITE [COMPONENT...]"`);
    const [uri, suite, ...components] = words as [string, string, ...string[]];
    if (!suite.endsWith("/") && components.length === 0) {
      throw new OcipatchError("INVALID_FORMAT", `${where}: suite "${suite}" needs at least one component`);
    }
    out.push(entry(type, normaliseUri(uri, where), suite, components, opts, where));
  }
  return out;
}

function applyOption(opts: Options, opt: string, where: string): void {
  const m = /^([A-Za-z-]+)([+-]?=)(.*)$/.exec(opt);
  if (!m) throw new OcipatchError("INVALID_FORMAT", `${where}: malformed option "${opt}"`);
  const key = m[1]!.toLowerCase();
  const value = m[3]!;
  switch (key) {
    case "arch":
      // `arch+=`/`arch-=` modify apt's default list; ocipatch's list is the image's architecture anyway
      if (m[2] === "=") opts.architectures = value.split(",").filter((x) => x !== "");
      break;
    case "signed-by":
      opts.signedBy = parseSignedBy(value);
      break;
    case "trusted":
      opts.trusted = parseBool(value, where);
      break;
    case "check-valid-until":
      opts.checkValidUntil = parseBool(value, where);
      break;
    default:
      // lang=, target=, pdiffs=, by-hash=, allow-insecure=... do not change what is planned
      break;
  }
}

function entry(
  type: "deb" | "deb-src",
  uri: string,
  suite: string,
  components: readonly string[],
  opts: Options,
  origin: string,
): SourceEntry {
  return {
    type,
    uri,
    suite,
    components,
    architectures: opts.architectures,
    signedBy: opts.signedBy,
    trusted: opts.trusted,
    checkValidUntil: opts.checkValidUntil,
    origin,
  };
}

/** deb822 format: paragraphs with Types, URIs, Suites, Components, Signed-By, Enabled, Architectures. */
export function parseDeb822Sources(content: string, path = "deb822.sources"): SourceEntry[] {
  const out: SourceEntry[] = [];
  for (const p of parseParagraphs(content, { source: path })) {
    const where = `${path}:${p.line}`;
    const enabled = p.get("Enabled");
    if (enabled !== undefined && !parseBool(enabled, where)) continue;
    const list = (f: string): string[] => (p.get(f) ?? "").split(/\s+/).filter((x) => x !== "");
    const types = list("Types");
    const uris = list("URIs");
    const suites = list("Suites");
    const components = list("Components");
    if (types.length === 0 || uris.length === 0 || suites.length === 0) {
      throw new OcipatchError("INVALID_FORMAT", `${where}: a source needs Types, URIs and Suites`);
    }
    const opts: Options = {};
    const arches = p.get("Architectures");
    if (arches !== undefined) opts.architectures = arches.split(/\s+/).filter((x) => x !== "");
    const signedBy = p.get("Signed-By");
    if (signedBy !== undefined && signedBy.trim() !== "") opts.signedBy = parseSignedBy(signedBy);
    const trusted = p.get("Trusted");
    if (trusted !== undefined) opts.trusted = parseBool(trusted, where);
    const cvu = p.get("Check-Valid-Until");
    if (cvu !== undefined) opts.checkValidUntil = parseBool(cvu, where);
    for (const type of types) {
      if (type !== "deb" && type !== "deb-src") {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${where}: unknown type "${type}" (expected deb or deb-src)`,
        );
      }
      for (const uri of uris) {
        for (const suite of suites) {
          if (!suite.endsWith("/") && components.length === 0) {
            throw new OcipatchError("INVALID_FORMAT", `${where}: suite "${suite}" needs Components`);
          }
          out.push(
            entry(type, normaliseUri(uri, where), suite, suite.endsWith("/") ? [] : components, opts, where),
          );
        }
      }
    }
  }
  return out;
}
