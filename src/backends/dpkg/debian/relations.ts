import { OcipatchError } from "../../../errors.js";
import { satisfiesRelation, type VersionRelation } from "./version.js";

/**
 * Package relationship fields (Debian Policy 7.1, multiarch spec): Depends,
 * Pre-Depends, Recommends, Breaks, Conflicts, Provides, Build-Depends...
 *
 *   Depends: libc6 (>= 2.14), foo:any | bar [amd64 !i386] <!nocheck>, baz:native
 *
 * A field is a conjunction (comma) of groups; a group is a disjunction (`|`) of
 * relations. Provides/Breaks/Conflicts use the same syntax without alternatives.
 */
export interface VersionConstraint {
  readonly op: VersionRelation;
  readonly version: string;
}

export interface ArchRestriction {
  /** `[!i386 !armel]`: true when the list is negated (all entries start with `!`). */
  readonly negated: boolean;
  readonly arches: readonly string[];
}

export interface Relation {
  readonly name: string;
  /** `:any`, `:native` or an architecture name after the package name. */
  readonly archQualifier: string | undefined;
  readonly constraint: VersionConstraint | undefined;
  /** `[amd64 i386]` (source relations only). */
  readonly archRestriction: ArchRestriction | undefined;
  /** `<!nocheck> <stage1 cross>`: each `<...>` is a conjunction of terms; the list is a disjunction. */
  readonly profiles: readonly (readonly string[])[] | undefined;
}

/** Alternatives: satisfied when any one relation is. */
export type RelationGroup = readonly Relation[];

const NAME_RE = /^[a-z0-9][a-z0-9+.-]*$/;
const ARCH_RE = /^[a-z0-9][a-z0-9-]*$/;
const OPS: Record<string, VersionRelation> = {
  "<<": "<<",
  "<=": "<=",
  "=": "=",
  ">=": ">=",
  ">>": ">>",
  // obsolete forms (Policy 7.1): `<` means `<=`, `>` means `>=`
  "<": "<=",
  ">": ">=",
};

interface RelationParseOptions {
  /** Field name and file for messages. */
  readonly context?: string;
  /** Reject alternatives (`|`): Provides, Breaks, Conflicts, Replaces. */
  readonly noAlternatives?: boolean;
}

function fail(opts: RelationParseOptions, text: string, why: string): never {
  const where = opts.context ? `${opts.context}: ` : "";
  throw new OcipatchError("INVALID_FORMAT", `${where}invalid relation "${text.slice(0, 120)}": ${why}`);
}

/** Parse one relation such as `libc6:any (>= 2.14) [amd64] <!nocheck>`. */
export function parseRelation(text: string, opts: RelationParseOptions = {}): Relation {
  let s = text.trim();
  const m = /^([^\s([<:]+)(?::([^\s([<]+))?/.exec(s);
  if (!m) fail(opts, text, "missing package name");
  const name = m[1]!;
  const archQualifier = m[2];
  if (!NAME_RE.test(name)) fail(opts, text, `bad package name "${name}"`);
  if (archQualifier !== undefined && !ARCH_RE.test(archQualifier)) {
    fail(opts, text, `bad architecture qualifier "${archQualifier}"`);
  }
  s = s.slice(m[0].length).trimStart();
  let constraint: VersionConstraint | undefined;
  if (s.startsWith("(")) {
    const close = s.indexOf(")");
    if (close === -1) fail(opts, text, "unclosed version constraint");
    const inner = s.slice(1, close).trim();
    const cm = /^(<<|<=|>=|>>|=|<|>)\s*([A-Za-z0-9]\S*)$/.exec(inner);
    if (!cm) fail(opts, text, `bad version constraint "(${inner})"`);
    constraint = { op: OPS[cm[1]!]!, version: cm[2]! };
    s = s.slice(close + 1).trimStart();
  }
  let archRestriction: ArchRestriction | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close === -1) fail(opts, text, "unclosed architecture restriction");
    const items = s
      .slice(1, close)
      .trim()
      .split(/\s+/)
      .filter((x) => x !== "");
    if (items.length === 0) fail(opts, text, "empty architecture restriction");
    const negs = items.filter((x) => x.startsWith("!")).length;
    if (negs !== 0 && negs !== items.length) fail(opts, text, "mixed negated and plain architectures");
    const arches = items.map((x) => (x.startsWith("!") ? x.slice(1) : x));
    for (const a of arches) if (!ARCH_RE.test(a)) fail(opts, text, `bad architecture "${a}"`);
    archRestriction = { negated: negs !== 0, arches };
    s = s.slice(close + 1).trimStart();
  }
  let profiles: string[][] | undefined;
  while (s.startsWith("<")) {
    const close = s.indexOf(">");
    if (close === -1) fail(opts, text, "unclosed build profile");
    const terms = s
      .slice(1, close)
      .trim()
      .split(/\s+/)
      .filter((x) => x !== "");
    if (terms.length === 0) fail(opts, text, "empty build profile");
    if (!profiles) profiles = [];
    profiles.push(terms);
    s = s.slice(close + 1).trimStart();
  }
  if (s !== "") fail(opts, text, `unexpected "${s.slice(0, 40)}"`);
  return { name, archQualifier, constraint, archRestriction, profiles };
}

/** Parse a whole relationship field into groups of alternatives. Empty field → []. */
export function parseRelations(field: string | undefined, opts: RelationParseOptions = {}): RelationGroup[] {
  if (field === undefined) return [];
  const text = field.replace(/\s+/g, " ").trim();
  if (text === "") return [];
  const out: RelationGroup[] = [];
  const parts = text.split(",");
  // a trailing comma is tolerated (it appears in real control files); other empty items are not
  if (parts.length > 1 && parts.at(-1)!.trim() === "") parts.pop();
  for (const part of parts) {
    if (part.trim() === "") fail(opts, text, "empty item");
    const alts = part.split("|");
    if (opts.noAlternatives && alts.length > 1) fail(opts, part, "alternatives are not allowed here");
    out.push(alts.map((a) => parseRelation(a, opts)));
  }
  return out;
}

/** Canonical text of a relation (`name:qual (op version) [archs] <profiles>`). */
export function formatRelation(r: Relation): string {
  let s = r.name;
  if (r.archQualifier !== undefined) s += `:${r.archQualifier}`;
  if (r.constraint) s += ` (${r.constraint.op} ${r.constraint.version})`;
  if (r.archRestriction) {
    const p = r.archRestriction.negated ? "!" : "";
    s += ` [${r.archRestriction.arches.map((a) => p + a).join(" ")}]`;
  }
  if (r.profiles) for (const t of r.profiles) s += ` <${t.join(" ")}>`;
  return s;
}

export function formatRelations(groups: readonly RelationGroup[]): string {
  return groups.map((g) => g.map(formatRelation).join(" | ")).join(", ");
}

/** Does a (real or provided) version satisfy the relation's version constraint? */
export function constraintAllows(c: VersionConstraint | undefined, version: string | undefined): boolean {
  if (c === undefined) return true;
  // an unversioned Provides never satisfies a versioned dependency (Policy 7.5)
  if (version === undefined) return false;
  return satisfiesRelation(version, c.op, c.version);
}

/** dpkg architecture wildcard matching (`any`, `linux-any`, `any-amd64`, exact). */
export function archMatches(pattern: string, arch: string): boolean {
  if (pattern === arch || pattern === "any") return true;
  if (pattern === "all") return arch === "all";
  const [os, cpu] = pattern.includes("-") ? pattern.split("-", 2) : ["linux", pattern];
  // Debian arch names for linux are bare cpu names (amd64 = linux-amd64)
  const archOs = arch.includes("-") ? arch.split("-", 2)[0]! : "linux";
  const archCpu = arch.includes("-") ? arch.split("-", 2)[1]! : arch;
  return (os === "any" || os === archOs) && (cpu === "any" || cpu === archCpu);
}

/**
 * Does a relation apply when building/installing for `arch` with build `profiles` active?
 * Binary packages' relations never carry restrictions, so this matters for source relations.
 */
export function relationApplies(r: Relation, arch: string, activeProfiles: readonly string[] = []): boolean {
  if (r.archRestriction) {
    const hit = r.archRestriction.arches.some((a) => archMatches(a, arch));
    if (r.archRestriction.negated ? hit : !hit) return false;
  }
  if (r.profiles) {
    const active = new Set(activeProfiles);
    const ok = r.profiles.some((terms) =>
      terms.every((t) => (t.startsWith("!") ? !active.has(t.slice(1)) : active.has(t))),
    );
    if (!ok) return false;
  }
  return true;
}

/** A Provides entry: the virtual package name and its version, when versioned (`= v` only). */
export interface Provision {
  readonly name: string;
  readonly archQualifier: string | undefined;
  readonly version: string | undefined;
}

/** Parse a Provides field (Policy 7.5: only `=` versions). */
export function parseProvides(field: string | undefined, context?: string): Provision[] {
  return parseRelations(field, { noAlternatives: true, ...(context ? { context } : {}) }).map((g) => {
    const r = g[0]!;
    if (r.constraint && r.constraint.op !== "=") {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${context ? `${context}: ` : ""}Provides "${formatRelation(r)}" uses "${r.constraint.op}"; only "=" is allowed`,
      );
    }
    return { name: r.name, archQualifier: r.archQualifier, version: r.constraint?.version };
  });
}
