/**
 * rpm dependency semantics without rpm: version ranges (`rpmdsCompare`: a provide and a require
 * match when their ranges overlap; a side without a release compares epoch and version only) and
 * rich dependencies (`(a or b)`, `(a if b else c)`, `and`, `unless`, `with`, `without`), parsed into
 * a tree and evaluated against a predicate on simple atoms.
 */
import { OcipatchError } from "../../errors.js";
import { SENSE } from "./header.js";
import { parseEvr, rpmvercmp } from "./version.js";

/** A comparison: which sides of the EVR it covers. */
export interface Sense {
  readonly less: boolean;
  readonly greater: boolean;
  readonly equal: boolean;
}

/** One dependency reduced to name and range (undefined: any version). */
export interface DepAtom {
  readonly name: string;
  readonly sense: Sense | undefined;
  readonly evr: string | undefined;
}

/** primary.xml's `flags` (EQ, LT, LE, GT, GE) as a sense. */
export function senseOfFlags(flags: string | undefined): Sense | undefined {
  switch (flags) {
    case "EQ":
      return { less: false, greater: false, equal: true };
    case "LT":
      return { less: true, greater: false, equal: false };
    case "LE":
      return { less: true, greater: false, equal: true };
    case "GT":
      return { less: false, greater: true, equal: false };
    case "GE":
      return { less: false, greater: true, equal: true };
    default:
      return undefined;
  }
}

/** A header's rpmsenseFlags as a sense (undefined when no comparison bit is set). */
export function senseOfBits(flags: number): Sense | undefined {
  const s = {
    less: (flags & SENSE.LESS) !== 0,
    greater: (flags & SENSE.GREATER) !== 0,
    equal: (flags & SENSE.EQUAL) !== 0,
  };
  return s.less || s.greater || s.equal ? s : undefined;
}

/** Operator text of a sense ("<=", ">"...). */
function senseText(s: Sense): string {
  return `${s.less ? "<" : ""}${s.greater ? ">" : ""}${s.equal ? "=" : ""}`;
}

/** EVR order of dependencies: epoch (absent = 0), version, and the release only when both have one. */
export function compareDepEvr(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  const e = rpmvercmp(x.epoch ?? "0", y.epoch ?? "0");
  if (e !== 0) return e;
  const v = rpmvercmp(x.version, y.version);
  if (v !== 0) return v;
  if (!x.release || !y.release) return 0;
  return rpmvercmp(x.release, y.release);
}

/** Do two ranges of the same name overlap (rpmdsCompare)? An unversioned side matches anything. */
export function rangesOverlap(a: Pick<DepAtom, "sense" | "evr">, b: Pick<DepAtom, "sense" | "evr">): boolean {
  if (!a.sense || !b.sense || a.evr === undefined || b.evr === undefined) return true;
  const c = compareDepEvr(a.evr, b.evr);
  if (c < 0) return a.sense.greater || b.sense.less;
  if (c > 0) return a.sense.less || b.sense.greater;
  return (
    (a.sense.equal && b.sense.equal) || (a.sense.less && b.sense.less) || (a.sense.greater && b.sense.greater)
  );
}

/** A parsed dependency: a simple atom or a rich (boolean) one. */
export type DepExpr =
  | { readonly kind: "atom"; readonly atom: DepAtom }
  | { readonly kind: "and" | "or" | "with"; readonly items: readonly DepExpr[] }
  | {
      readonly kind: "if" | "unless";
      readonly body: DepExpr;
      readonly cond: DepExpr;
      readonly otherwise?: DepExpr | undefined;
    }
  | { readonly kind: "without"; readonly left: DepExpr; readonly right: DepExpr };

const OPS: Record<string, Sense> = {
  "=": { less: false, greater: false, equal: true },
  "==": { less: false, greater: false, equal: true },
  "<": { less: true, greater: false, equal: false },
  "<=": { less: true, greater: false, equal: true },
  ">": { less: false, greater: true, equal: false },
  ">=": { less: false, greater: true, equal: true },
};

/**
 * Parse a rich dependency name as rpm writes it (`(a or (b >= 1 if c))`). A plain name is one atom
 * with `sense`/`evr` from the dependency's own flags.
 */
export function parseDependency(
  name: string,
  sense: Sense | undefined,
  evr: string | undefined,
  where: string,
): DepExpr {
  if (!name.startsWith("(")) return { kind: "atom", atom: { name, sense, evr } };
  const tokens = name.match(/\(|\)|[^\s()]+/g) ?? [];
  let i = 0;
  const bad = (msg: string): never => {
    throw new OcipatchError("INVALID_FORMAT", `${where}: rich dependency ${name.slice(0, 200)}: ${msg}`);
  };
  const term = (depth: number): DepExpr => {
    if (depth > 32) bad("nested too deep");
    const t = tokens[i];
    if (t === "(") {
      i++;
      const e = group(depth + 1);
      if (tokens[i] !== ")") bad("missing )");
      i++;
      return e;
    }
    if (t === undefined || t === ")") bad("a name is missing");
    i++;
    const op = tokens[i];
    if (op !== undefined && OPS[op]) {
      const v = tokens[i + 1];
      if (v === undefined || v === "(" || v === ")") bad(`no version after ${op}`);
      i += 2;
      return { kind: "atom", atom: { name: t as string, sense: OPS[op], evr: v } };
    }
    return { kind: "atom", atom: { name: t as string, sense: undefined, evr: undefined } };
  };
  const group = (depth: number): DepExpr => {
    const first = term(depth);
    const op = tokens[i];
    if (op === ")" || op === undefined) return first;
    if (op === "and" || op === "or" || op === "with") {
      const items = [first];
      while (tokens[i] === op) {
        i++;
        items.push(term(depth));
      }
      if (tokens[i] !== ")") bad(`"${op}" mixed with "${tokens[i]}"`);
      return { kind: op, items };
    }
    if (op === "if" || op === "unless") {
      i++;
      const cond = term(depth);
      if (tokens[i] === "else") {
        i++;
        return { kind: op, body: first, cond, otherwise: term(depth) };
      }
      return { kind: op, body: first, cond };
    }
    if (op === "without") {
      i++;
      return { kind: "without", left: first, right: term(depth) };
    }
    return bad(`unknown operator "${op}"`);
  };
  const e = term(0);
  if (i !== tokens.length) bad("text after the closing )");
  return e;
}

/** Evaluate a dependency with `has(atom)` deciding simple atoms. */
export function evalDependency(e: DepExpr, has: (a: DepAtom) => boolean): boolean {
  switch (e.kind) {
    case "atom":
      return has(e.atom);
    case "and":
    case "with":
      return e.items.every((x) => evalDependency(x, has));
    case "or":
      return e.items.some((x) => evalDependency(x, has));
    case "if":
      return evalDependency(e.cond, has)
        ? evalDependency(e.body, has)
        : e.otherwise === undefined || evalDependency(e.otherwise, has);
    case "unless":
      return !evalDependency(e.cond, has)
        ? evalDependency(e.body, has)
        : e.otherwise === undefined || evalDependency(e.otherwise, has);
    case "without":
      return evalDependency(e.left, has) && !evalDependency(e.right, has);
  }
}

/**
 * The atoms that would make an unsatisfied dependency hold, in preference order: for `or` the
 * alternatives left to right, for `and` every missing one, for `if` the `then` part when the
 * condition holds. Empty when installing something cannot help (`without`, `unless`).
 */
export function missingAtoms(e: DepExpr, has: (a: DepAtom) => boolean): DepAtom[][] {
  switch (e.kind) {
    case "atom":
      return has(e.atom) ? [] : [[e.atom]];
    case "and":
    case "with":
      return e.items.flatMap((x) => missingAtoms(x, has));
    case "or": {
      if (e.items.some((x) => evalDependency(x, has))) return [];
      // one group of alternatives: any of these would do
      return [e.items.flatMap((x) => missingAtoms(x, has).flat())];
    }
    case "if":
      if (evalDependency(e.cond, has)) return missingAtoms(e.body, has);
      return e.otherwise === undefined ? [] : missingAtoms(e.otherwise, has);
    case "unless":
      if (!evalDependency(e.cond, has)) return missingAtoms(e.body, has);
      return e.otherwise === undefined ? [] : missingAtoms(e.otherwise, has);
    case "without":
      return [];
  }
}

/** A dependency as text ("libhello >= 1.0", "(a or b)"). */
export function depText(name: string, sense: Sense | undefined, evr: string | undefined): string {
  return sense && evr !== undefined ? `${name} ${senseText(sense)} ${evr}` : name;
}
