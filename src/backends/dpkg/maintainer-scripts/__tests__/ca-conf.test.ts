/**
 * The postinst's /etc/ca-certificates.conf rules on small cases (the real scripts decide the
 * full-size cases in test/integration/patch.fidelity.test.ts).
 */
import { describe, expect, it } from "vitest";
import { certsListOf, unsupportedConf, updateCaConf } from "../ca-certificates/conf.js";

const HEAD = "# comment\n";

describe("ca-certificates.conf update", () => {
  const base = {
    shareCrts: ["mozilla/A.crt", "mozilla/C.crt"],
    certsList: ["mozilla/A.crt", "mozilla/C.crt"],
    certFileExists: (rel: string) => rel === "mozilla/A.crt" || rel === "mozilla/C.crt",
  };

  it("enables a new certificate, deselects a dropped one, keeps a deselected one", () => {
    const r = updateCaConf({ ...base, conf: `${HEAD}mozilla/A.crt\nmozilla/B.crt\n`, trustNew: "yes" });
    expect(r.conf).toBe(`${HEAD}mozilla/A.crt\n!mozilla/B.crt\nmozilla/C.crt\n`);
    expect(r.changed).toBe(true);
    const kept = updateCaConf({ ...base, conf: `${HEAD}!mozilla/A.crt\nmozilla/C.crt\n`, trustNew: "yes" });
    expect(kept.conf).toBe(`${HEAD}!mozilla/A.crt\nmozilla/C.crt\n`);
    expect(kept.changed).toBe(false);
  });

  it("with trust_new_crts=no a new certificate is added deselected", () => {
    const r = updateCaConf({ ...base, conf: `${HEAD}mozilla/A.crt\n`, trustNew: "no" });
    expect(r.conf).toBe(`${HEAD}mozilla/A.crt\n!mozilla/C.crt\n`);
  });

  it("creates the file, sorted, when the image has none", () => {
    const r = updateCaConf({ ...base, conf: undefined, shareCrts: undefined, trustNew: "yes" });
    expect(r.created).toBe(true);
    expect(r.conf.endsWith("#\nmozilla/A.crt\nmozilla/C.crt\n")).toBe(true);
  });

  it("a last line without a newline is not read by the postinst's `while read`", () => {
    const r = updateCaConf({ ...base, conf: `${HEAD}mozilla/A.crt\nmozilla/C.crt`, trustNew: "yes" });
    expect(r.conf).toBe(`${HEAD}mozilla/A.crt\nmozilla/C.crt\n`);
  });

  it("reads CERTS_LIST and refuses what the shell would read differently", () => {
    expect(certsListOf('set -e\nCERTS_LIST="mozilla/A.crt, mozilla/B.crt"\n')).toEqual([
      "mozilla/A.crt",
      "mozilla/B.crt",
    ]);
    expect(certsListOf("set -e\n")).toBeUndefined();
    expect(unsupportedConf("a\\b\n")).toMatch(/backslash/);
    expect(unsupportedConf("my cert.crt\n")).toMatch(/blanks/);
    expect(unsupportedConf(`${HEAD}mozilla/A.crt\n`)).toBeUndefined();
  });
});
