/**
 * ORACLE: the host's `openssl rehash` on a real directory: hash-name collisions, an existing link
 * whose number is kept, a duplicate certificate, a stale and a superfluous link must end up as
 * the native rehash leaves the model of the same directory.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CertsDir, type CertsDirEntry } from "../ca-certificates/certs-dir.js";
import { rehash } from "../ca-certificates/rehash.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-rehash-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cert(name: string, subject: string): string {
  const p = join(work, name);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${p}.key`,
      "-subj",
      subject,
      "-days",
      "1",
      "-out",
      p,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return p;
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    out[n] = lstatSync(p).isSymbolicLink() ? `-> ${readlinkSync(p)}` : "file";
  }
  return out;
}

describe("native openssl rehash", () => {
  it("leaves a directory as openssl rehash does", async () => {
    const a = cert("a.src", "/CN=Same Name/O=Test");
    const b = cert("b.src", "/CN=same   name/O=TEST"); // the same canonical name: a collision
    const c = cert("c.src", "/CN=Other");
    const hash = execFileSync("openssl", ["x509", "-hash", "-noout", "-in", a]).toString().trim();
    const dir = join(work, "certs");
    mkdirSync(dir);
    copyFileSync(a, join(dir, "a.pem"));
    copyFileSync(b, join(dir, "b.pem"));
    copyFileSync(a, join(dir, "dup.crt")); // the same certificate again: skipped
    copyFileSync(c, join(dir, "c.pem"));
    symlinkSync("b.pem", join(dir, `${hash}.0`)); // kept as is
    symlinkSync("a.pem", join(dir, `${hash}.3`)); // superfluous: a gets a lower number, this stays
    symlinkSync("gone.pem", join(dir, `${hash}.7`)); // no longer needed: removed

    const model = new Map<string, CertsDirEntry>();
    for (const n of readdirSync(dir)) {
      const p = join(dir, n);
      model.set(
        n,
        lstatSync(p).isSymbolicLink()
          ? { kind: "symlink", target: readlinkSync(p) }
          : { kind: "file", content: readFileSync(p) },
      );
    }
    const certsDir = new CertsDir(model, { readRegular: async () => undefined });
    await rehash(certsDir);

    execFileSync("openssl", ["rehash", dir], { stdio: ["ignore", "ignore", "ignore"] });
    const real = snapshot(dir);
    const ours: Record<string, string> = {};
    for (const [n, e] of [...model].sort(([x], [y]) => (x < y ? -1 : 1))) {
      ours[n] = e.kind === "symlink" ? `-> ${e.target}` : "file";
    }
    expect(ours).toEqual(real);
    expect(real[`${hash}.0`]).toBe("-> b.pem");
    expect(real[`${hash}.1`]).toBe("-> a.pem");
    expect(real[`${hash}.7`]).toBeUndefined();
  });
});
