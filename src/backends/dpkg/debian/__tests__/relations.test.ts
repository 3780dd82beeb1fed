import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import {
  archMatches,
  constraintAllows,
  formatRelations,
  parseProvides,
  parseRelation,
  parseRelations,
  type Relation,
  relationApplies,
} from "../relations.js";

const rel = (name: string, extra: Partial<Relation> = {}): Relation => ({
  name,
  archQualifier: undefined,
  constraint: undefined,
  archRestriction: undefined,
  profiles: undefined,
  ...extra,
});

describe("parseRelations", () => {
  it.each([
    ["libc6 (>= 2.14)", [[rel("libc6", { constraint: { op: ">=", version: "2.14" } })]]],
    [
      // real Depends of bullseye's nginx-light (multi-line form joined)
      "libc6 (>= 2.28), libcrypt1 (>= 1:4.1.0),\n libpcre3, libssl1.1 (>= 1.1.1), zlib1g (>= 1:1.1.4), nginx-common (= 1.18.0-6.1+deb11u3)",
      [
        [rel("libc6", { constraint: { op: ">=", version: "2.28" } })],
        [rel("libcrypt1", { constraint: { op: ">=", version: "1:4.1.0" } })],
        [rel("libpcre3")],
        [rel("libssl1.1", { constraint: { op: ">=", version: "1.1.1" } })],
        [rel("zlib1g", { constraint: { op: ">=", version: "1:1.1.4" } })],
        [rel("nginx-common", { constraint: { op: "=", version: "1.18.0-6.1+deb11u3" } })],
      ],
    ],
    [
      "debconf (>= 0.5) | debconf-2.0",
      [[rel("debconf", { constraint: { op: ">=", version: "0.5" } }), rel("debconf-2.0")]],
    ],
    [
      "python3:any (>= 3.9~)",
      [[rel("python3", { archQualifier: "any", constraint: { op: ">=", version: "3.9~" } })]],
    ],
    ["perl:native", [[rel("perl", { archQualifier: "native" })]]],
    ["libfoo:i386", [[rel("libfoo", { archQualifier: "i386" })]]],
    // obsolete operators: `<` is `<=`, `>` is `>=`
    [
      "a (< 1), b (> 2)",
      [
        [rel("a", { constraint: { op: "<=", version: "1" } })],
        [rel("b", { constraint: { op: ">=", version: "2" } })],
      ],
    ],
    ["a (>>1.0)", [[rel("a", { constraint: { op: ">>", version: "1.0" } })]]],
    [
      "gcc-multilib [amd64 i386] <!nocheck> <stage1 cross>",
      [
        [
          rel("gcc-multilib", {
            archRestriction: { negated: false, arches: ["amd64", "i386"] },
            profiles: [["!nocheck"], ["stage1", "cross"]],
          }),
        ],
      ],
    ],
    [
      "libseccomp-dev [!hurd-any !kfreebsd-any]",
      [[rel("libseccomp-dev", { archRestriction: { negated: true, arches: ["hurd-any", "kfreebsd-any"] } })]],
    ],
    ["a, b,", [[rel("a")], [rel("b")]]],
    ["", []],
  ])("%s", (text, expected) => {
    expect(parseRelations(text)).toEqual(expected);
  });

  it.each([
    "a (>= )",
    "a (~= 1)",
    "a (>= 1",
    "A-upper",
    "a, , b",
    "a [amd64 !i386]",
    "a [amd64",
    "a <nocheck",
    "a junk",
    "a | ",
  ])("rejects %j with INVALID_FORMAT", (text) => {
    let err: unknown;
    try {
      parseRelations(text, { context: "Depends" });
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toContain("Depends");
  });

  it("refuses alternatives where they are not allowed", () => {
    expect(() => parseRelations("a | b", { noAlternatives: true })).toThrow(/alternatives/);
  });
});

describe("Provides", () => {
  it("parses versioned and unversioned provisions", () => {
    expect(parseProvides("libssl1.1-udeb, awk, c-compiler (= 10)")).toEqual([
      { name: "libssl1.1-udeb", archQualifier: undefined, version: undefined },
      { name: "awk", archQualifier: undefined, version: undefined },
      { name: "c-compiler", archQualifier: undefined, version: "10" },
    ]);
  });
  it("rejects non-= versions", () => {
    expect(() => parseProvides("foo (>= 1)")).toThrow(/only "="/);
  });
});

describe("constraints and restrictions", () => {
  it("applies version constraints, unversioned provides never satisfy a versioned dependency", () => {
    expect(constraintAllows(undefined, undefined)).toBe(true);
    expect(constraintAllows({ op: ">=", version: "1.0" }, "1.0")).toBe(true);
    expect(constraintAllows({ op: ">>", version: "1.0" }, "1.0")).toBe(false);
    expect(constraintAllows({ op: "<<", version: "1.0" }, "1.0~rc1")).toBe(true);
    expect(constraintAllows({ op: ">=", version: "1.0" }, undefined)).toBe(false);
  });
  it("matches architecture wildcards", () => {
    expect(archMatches("any", "arm64")).toBe(true);
    expect(archMatches("linux-any", "amd64")).toBe(true);
    expect(archMatches("any-amd64", "amd64")).toBe(true);
    expect(archMatches("any-amd64", "arm64")).toBe(false);
    expect(archMatches("hurd-any", "amd64")).toBe(false);
    expect(archMatches("hurd-any", "hurd-i386")).toBe(true);
    expect(archMatches("i386", "amd64")).toBe(false);
  });
  it("evaluates architecture restrictions and build profiles", () => {
    const r = parseRelation("gcc-multilib [amd64 i386] <!nocheck>");
    expect(relationApplies(r, "amd64")).toBe(true);
    expect(relationApplies(r, "arm64")).toBe(false);
    expect(relationApplies(r, "amd64", ["nocheck"])).toBe(false);
    const n = parseRelation("libseccomp-dev [!hurd-any]");
    expect(relationApplies(n, "amd64")).toBe(true);
    expect(relationApplies(n, "hurd-i386")).toBe(false);
    const p = parseRelation("x <stage1 cross> <pkg.foo>");
    expect(relationApplies(p, "amd64")).toBe(false);
    expect(relationApplies(p, "amd64", ["stage1", "cross"])).toBe(true);
    expect(relationApplies(p, "amd64", ["pkg.foo"])).toBe(true);
  });
});

describe("properties", () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{0,12}$/);
  const arch = fc.constantFrom("amd64", "i386", "arm64", "linux-any", "any-arm64", "hurd-any");
  const version = fc.stringMatching(/^([1-9]:)?[0-9][A-Za-z0-9.+~]{0,6}(-[A-Za-z0-9.+~]{1,5})?$/);
  const relation: fc.Arbitrary<Relation> = fc.record({
    name,
    archQualifier: fc.option(fc.constantFrom("any", "native", "amd64", "i386"), { nil: undefined }),
    constraint: fc.option(
      fc.record({
        op: fc.constantFrom("<<" as const, "<=" as const, "=" as const, ">=" as const, ">>" as const),
        version,
      }),
      { nil: undefined },
    ),
    archRestriction: fc.option(
      fc.record({ negated: fc.boolean(), arches: fc.array(arch, { minLength: 1, maxLength: 3 }) }),
      { nil: undefined },
    ),
    profiles: fc.option(
      fc.array(fc.array(fc.stringMatching(/^!?[a-z][a-z0-9.]{0,8}$/), { minLength: 1, maxLength: 2 }), {
        minLength: 1,
        maxLength: 2,
      }),
      { nil: undefined },
    ),
  });
  const field = fc.array(fc.array(relation, { minLength: 1, maxLength: 3 }), { maxLength: 5 });

  it("parse(format(x)) == x", () => {
    fc.assert(
      fc.property(field, (groups) => {
        expect(parseRelations(formatRelations(groups))).toEqual(groups);
      }),
    );
  });

  it("whitespace and line folding do not change the meaning", () => {
    fc.assert(
      fc.property(field, fc.constantFrom(" ", "\n ", "  ", "\t"), (groups, ws) => {
        const text = formatRelations(groups).replaceAll(", ", `,${ws}`).replaceAll(" | ", `${ws}|${ws}`);
        expect(parseRelations(text)).toEqual(groups);
      }),
    );
  });

  it("never throws anything but INVALID_FORMAT on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          parseRelations(s);
        } catch (e) {
          expect(isOcipatchError(e, "INVALID_FORMAT")).toBe(true);
        }
      }),
    );
  });
});
