/**
 * ORACLE: the host's `openssl x509 -hash` (OpenSSL 3). Every certificate of the host's
 * ca-certificates, and certificates made by `openssl req` with generated subject names (case,
 * runs of white space, non-ASCII text, multi-valued RDNs, PrintableString / T61String /
 * BMPString / UTF8String / IA5String encodings), must get the same subject hash.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { pemBlocks } from "../x509/pem.js";
import { certificateInfo } from "../x509/subject-hash.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-subject-hash-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function opensslHash(pemPath: string): string {
  return execFileSync("openssl", ["x509", "-hash", "-noout", "-in", pemPath]).toString().trim();
}

function opensslFingerprint(pemPath: string): string {
  const out = execFileSync("openssl", ["x509", "-fingerprint", "-sha1", "-noout", "-in", pemPath]).toString();
  return out.replace(/^.*=/, "").replace(/:/g, "").trim().toLowerCase();
}

function infoOf(pemPath: string) {
  const blocks = pemBlocks(readFileSync(pemPath, "latin1"));
  expect(blocks).toHaveLength(1);
  return certificateInfo(blocks[0]!.der);
}

describe("OpenSSL subject hash", () => {
  it("matches openssl x509 -hash on every certificate of the host's ca-certificates", () => {
    const root = "/usr/share/ca-certificates/mozilla";
    const names = readdirSync(root).filter((n) => n.endsWith(".crt"));
    expect(names.length).toBeGreaterThan(100);
    for (const n of names) {
      const p = join(root, n);
      const info = infoOf(p);
      expect(info.subjectHash, n).toBe(opensslHash(p));
    }
    const first = join(root, names[0]!);
    expect(infoOf(first).fingerprint).toBe(opensslFingerprint(first));
  });

  it("matches openssl on generated subject names", () => {
    const key = join(work, "key.pem");
    execFileSync("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      key,
    ]);
    const chars = fc.constantFrom(..."aAbBzZ09 .-_'".split(""), "  ", "\t", "é", "Ü", "ß", "日本", "Ω", "ﬀ");
    const value = fc
      .array(chars, { minLength: 1, maxLength: 12 })
      .map((a) => a.join(""))
      .filter((v) => v.trim() !== "");
    const attr = fc.constantFrom("CN", "O", "OU", "L", "ST", "emailAddress", "DC", "serialNumber");
    const rdn = fc.array(fc.tuple(attr, value), { minLength: 1, maxLength: 2 });
    const mask = fc.constantFrom("default", "utf8only", "nombstr", "pkix");
    let n = 0;
    fc.assert(
      fc.property(fc.array(rdn, { minLength: 1, maxLength: 4 }), mask, (rdns, stringMask) => {
        const ascii = (v: string) => /^[\x20-\x7e]*$/.test(v);
        // DC and emailAddress are IA5String, serialNumber PrintableString: ASCII only
        const fixed = rdns.map((r) =>
          r.map(([a, v]) => [
            a,
            a === "DC" || a === "emailAddress" || a === "serialNumber" ? (ascii(v) ? v : "x") : v,
          ]),
        );
        const esc = (v: string) => v.replace(/[\\/+=]/g, "\\$&");
        const subj = `/${fixed.map((r) => r.map(([a, v]) => `${a}=${esc(v!)}`).join("+")).join("/")}`;
        const cnf = join(work, "req.cnf");
        writeFileSync(cnf, `[req]\ndistinguished_name=dn\nstring_mask=${stringMask}\n[dn]\n`);
        const pem = join(work, `c${n++}.pem`);
        try {
          execFileSync(
            "openssl",
            [
              "req",
              "-x509",
              "-new",
              "-config",
              cnf,
              "-key",
              key,
              "-subj",
              subj,
              "-utf8",
              "-multivalue-rdn",
              "-days",
              "1",
              "-out",
              pem,
            ],
            { stdio: ["ignore", "ignore", "pipe"] },
          );
        } catch {
          return; // a name openssl itself refuses (e.g. a non-Latin-1 character with nombstr)
        }
        expect(infoOf(pem).subjectHash, `${subj} (${stringMask})`).toBe(opensslHash(pem));
      }),
      { numRuns: 60 },
    );
    expect(n).toBe(60);
  });
});
