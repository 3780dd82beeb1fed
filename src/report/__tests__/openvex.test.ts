import { describe, expect, it } from "vitest";
import type { Digest } from "../../util/digest.js";
import { fixedVulnerabilities } from "../fixed.js";
import { buildOpenVex, formatOpenVex } from "../openvex.js";
import { OPENVEX_CONTEXT, parseOpenVex } from "../openvex-schema.js";
import { decodePurl, grypeBeforeAfter, trivyStretch } from "./fixtures.js";

const DIGEST = `sha256:${"ab".repeat(32)}` as Digest;
const REF = "registry.example:5000/web/nginx:1.22-patched";
const TS = "2026-03-01T12:00:00.000Z";

/** The fixable (id, package, installed, fixed) rows of the real grype report, by id. */
function fixableById(before: ReturnType<typeof grypeBeforeAfter>["before"]) {
  const m = new Map<string, Set<string>>();
  for (const f of before.findings) {
    if (f.fixState !== "fixed") continue;
    const s = m.get(f.id) ?? new Set<string>();
    s.add(f.package);
    m.set(f.id, s);
  }
  return m;
}

describe("OpenVEX for a patched image", () => {
  it("states every fixed CVE `fixed` for the patched image with the package purls as subcomponents", () => {
    const { before, after } = grypeBeforeAfter();
    const expected = fixableById(before);
    expect(expected.size).toBeGreaterThan(5);
    const vex = buildOpenVex({
      before,
      after,
      imageRef: REF,
      patchedDigest: DIGEST,
      arch: "amd64",
      timestamp: TS,
    })!;

    expect(vex["@context"]).toBe(OPENVEX_CONTEXT);
    expect(vex["@id"]).toMatch(/^https:\/\/openvex\.dev\/docs\/public\/vex-[0-9a-f]{64}$/);
    expect(vex.author).toBe("ocipatch");
    expect(vex.timestamp).toBe(TS);
    expect(vex.version).toBe(1);
    expect(vex.statements.map((s) => s.vulnerability.name)).toEqual([...expected.keys()].sort());

    // the two forms scanners match: with repository_url (+ the bare digest as hash), and without
    const product = { type: "oci", namespace: undefined, name: "nginx", version: DIGEST };
    for (const s of vex.statements) {
      expect(s.status).toBe("fixed");
      expect(s.products).toHaveLength(2);
      expect(decodePurl(s.products![0]!["@id"]!)).toEqual({
        ...product,
        qualifiers: { repository_url: "registry.example:5000/web/nginx" },
      });
      expect(s.products![0]!.hashes).toEqual({ "sha-256": DIGEST.replace(/^sha256:/, "") });
      expect(decodePurl(s.products![1]!["@id"]!)).toEqual({ ...product, qualifiers: {} });
      expect(s.products![1]!.subcomponents).toEqual(s.products![0]!.subcomponents);
      const p = s.products![0]!;
      expect(p.identifiers?.purl).toBe(p["@id"]);
      const subs = p.subcomponents!.map((c) => decodePurl(c["@id"]!));
      expect(subs.map((c) => c.name).sort()).toEqual([...expected.get(s.vulnerability.name)!].sort());
      for (const c of subs) {
        expect(c.type).toBe("deb");
        expect(c.namespace).toBe("debian");
        const arch = before.findings.find((f) => f.package === c.name)!.architecture;
        expect(["amd64", "all"]).toContain(arch);
        expect(c.qualifiers["arch"]).toBe(arch);
        expect(c.qualifiers["distro"]).toBe("debian-10");
        // no upgrade information given: any version of the package
        expect(c.version).toBeUndefined();
      }
      expect(p.subcomponents!.map((c) => c["@id"])).toEqual(
        [...p.subcomponents!.map((c) => c["@id"])].sort(),
      );
    }
  });

  it("names the installed versions when the upgrades are given", () => {
    const before = trivyStretch();
    const after = { ...before, findings: before.findings.filter((f) => f.fixState !== "fixed") };
    const vex = buildOpenVex({
      before,
      after,
      imageRef: "docker.io/library/debian:9-patched",
      patchedDigest: DIGEST,
      timestamp: TS,
      upgraded: ["e2fslibs", "e2fsprogs", "libcomerr2", "libss2"].map((p) => ({
        package: p,
        architecture: "amd64",
        toVersion: "1.43.4-2+deb9u1",
        sourceName: "e2fsprogs",
        sourceVersion: "1.43.4-2+deb9u1",
      })),
    })!;
    expect(vex.statements).toHaveLength(1);
    const s = vex.statements[0]!;
    expect(s.vulnerability.name).toBe("CVE-2019-5094");
    expect(s.products![0]!["@id"]).toBe(
      `pkg:oci/debian@${DIGEST}?repository_url=docker.io%2Flibrary%2Fdebian`,
    );
    expect(s.products![0]!.subcomponents!.map((c) => c["@id"])).toEqual([
      "pkg:deb/debian/e2fslibs@1.43.4-2%2Bdeb9u1?arch=amd64&distro=debian-9.9&upstream=e2fsprogs",
      "pkg:deb/debian/e2fsprogs@1.43.4-2%2Bdeb9u1?arch=amd64&distro=debian-9.9",
      "pkg:deb/debian/libcomerr2@1.43.4-2%2Bdeb9u1?arch=amd64&distro=debian-9.9&upstream=e2fsprogs",
      "pkg:deb/debian/libss2@1.43.4-2%2Bdeb9u1?arch=amd64&distro=debian-9.9&upstream=e2fsprogs",
    ]);
    expect(s.status_notes).toBe(
      "upgraded by ocipatch: e2fslibs 1.43.4-2 -> 1.43.4-2+deb9u1, e2fsprogs 1.43.4-2 -> 1.43.4-2+deb9u1, libcomerr2 1.43.4-2 -> 1.43.4-2+deb9u1, libss2 1.43.4-2 -> 1.43.4-2+deb9u1",
    );
  });

  it("leaves out a CVE still reported after the patch, even for one of its packages", () => {
    const all = grypeBeforeAfter();
    const [id, pkgs] = [...fixableById(all.before)].find(([, p]) => p.size > 1)!;
    const one = [...pkgs][0]!;
    const { before, after } = grypeBeforeAfter([`${id} ${one}`]);
    const fixed = fixedVulnerabilities(before, after).map((v) => v.id);
    expect(fixed).not.toContain(id);
    expect(fixed).toHaveLength(fixableById(before).size - 1);
    const vex = buildOpenVex({ before, after, imageRef: REF, patchedDigest: DIGEST, timestamp: TS })!;
    expect(vex.statements.map((s) => s.vulnerability.name)).not.toContain(id);
  });

  it("is deterministic; @id changes with the content", () => {
    const { before, after } = grypeBeforeAfter();
    const a = formatOpenVex(
      buildOpenVex({ before, after, imageRef: REF, patchedDigest: DIGEST, timestamp: TS })!,
    );
    const b = formatOpenVex(
      buildOpenVex({
        before: { ...before, findings: [...before.findings].reverse() },
        after,
        imageRef: REF,
        patchedDigest: DIGEST,
        timestamp: TS,
      })!,
    );
    expect(b).toBe(a);
    const other = buildOpenVex({
      before,
      after,
      imageRef: REF,
      patchedDigest: `sha256:${"cd".repeat(32)}` as Digest,
      timestamp: TS,
    })!;
    expect(other["@id"]).not.toBe(JSON.parse(a)["@id"]);
    // what is written parses back as valid OpenVEX
    expect(parseOpenVex(JSON.parse(a))).toEqual(JSON.parse(a));
  });

  it("makes no document when nothing was fixed", () => {
    const { before } = grypeBeforeAfter();
    expect(buildOpenVex({ before, after: before, imageRef: REF, patchedDigest: DIGEST })).toBeUndefined();
  });
});

describe("the OpenVEX schema (from the spec)", () => {
  const base = {
    "@context": OPENVEX_CONTEXT,
    "@id": "https://openvex.dev/docs/public/vex-1",
    author: "someone",
    timestamp: "2023-01-08T18:02:03.647787998-06:00",
    version: 1,
    statements: [
      {
        vulnerability: { name: "CVE-2023-12345" },
        products: [{ "@id": "pkg:apk/wolfi/git@2.39.0-r1?arch=armv7" }],
        status: "fixed",
      },
    ],
  };
  const withStatement = (s: Record<string, unknown>) => ({
    ...base,
    statements: [{ ...base.statements[0], ...s }],
  });

  it("accepts the spec's minimal example and its not_affected pattern", () => {
    expect(() => parseOpenVex(base)).not.toThrow();
    expect(() =>
      parseOpenVex(withStatement({ status: "not_affected", justification: "component_not_present" })),
    ).not.toThrow();
    expect(() =>
      parseOpenVex(withStatement({ status: "affected", action_statement: "upgrade to 2.39.1" })),
    ).not.toThrow();
  });

  it.each([
    ["a missing author", { ...base, author: undefined }, /author/],
    ["no statements", { ...base, statements: [] }, /statements/],
    ["an unknown field", { ...base, extra: 1 }, /extra|Unrecognized/],
    ["version 0", { ...base, version: 0 }, /version/],
    ["a bad timestamp", { ...base, timestamp: "yesterday" }, /timestamp/],
    ["an unknown status", withStatement({ status: "patched" }), /status/],
    ["not_affected without justification", withStatement({ status: "not_affected" }), /justification/],
    [
      "not_affected with both",
      withStatement({
        status: "not_affected",
        justification: "component_not_present",
        impact_statement: "x",
      }),
      /exactly one/,
    ],
    ["affected without action", withStatement({ status: "affected" }), /action_statement/],
    ["a product @id that is not an IRI", withStatement({ products: [{ "@id": "nginx latest" }] }), /IRI/],
    ["duplicate statements", { ...base, statements: [base.statements[0], base.statements[0]] }, /unique/],
  ])("refuses %s", (_what, doc, re) => {
    expect(() => parseOpenVex(doc)).toThrow(re);
  });
});
