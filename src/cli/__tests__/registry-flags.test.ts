import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import {
  parseCreds,
  parseTlsVerify,
  patchCredentialFlags,
  redact,
  secretsInArgv,
  transportOptions,
} from "../registry-flags.js";

describe("registry flags", () => {
  it("parses USER:PASSWORD (the password may contain colons)", () => {
    expect(parseCreds("u:p:w", "--src-creds")).toEqual({ username: "u", password: "p:w" });
  });

  it.each(["user", ":pw", "user:"])("refuses %j with a usage error that does not repeat the value", (v) => {
    let err: unknown;
    try {
      parseCreds(v, "--dest-creds");
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "USAGE")).toBe(true);
    expect((err as Error).message).toMatch(/^--dest-creds/);
    if (v.length > 1) expect((err as Error).message).not.toContain(v);
  });

  it("reads --x-tls-verify values like skopeo", () => {
    expect(parseTlsVerify(undefined, "--tls-verify")).toBeUndefined();
    expect(parseTlsVerify(true, "--tls-verify")).toBe(true);
    expect(parseTlsVerify("false", "--tls-verify")).toBe(false);
    expect(parseTlsVerify("TRUE", "--tls-verify")).toBe(true);
    expect(() => parseTlsVerify("maybe", "--tls-verify")).toThrow(/must be true or false/);
    expect(transportOptions({}, undefined, "--creds", false, "false", "--tls-verify").insecure).toBe(true);
    expect(
      transportOptions({}, undefined, "--creds", undefined, true, "--tls-verify").insecure,
    ).toBeUndefined();
  });

  it("finds secrets in any spelling of a credential flag and masks them", () => {
    const argv = [
      "copy",
      "--src-creds",
      "alice:pw1",
      "--dest-creds=bob:pw:2",
      "--src-cred=carol:pw3",
      "-p",
      "pw4",
      "--password=pw5",
      "--creds",
      "justauser",
    ];
    const s = secretsInArgv(argv);
    for (const pw of ["pw1", "pw:2", "pw3", "pw4", "pw5"]) expect(s).toContain(pw);
    expect(s).not.toContain("justauser");
    const msg = redact("unknown option '--src-cred=carol:pw3' for bob:pw:2 and pw1", s);
    expect(msg).toBe("unknown option '--src-cred=***' for *** and ***");
  });
});

describe("patch -u/-p with kubescape's variables", () => {
  const env = { KUBESCAPE_REGISTRY_USERNAME: "env-user", KUBESCAPE_REGISTRY_PASSWORD: "env-pw" };
  it.each([
    ["both from the environment", undefined, undefined, env, { username: "env-user", password: "env-pw" }],
    ["flags win", "flag-user", "flag-pw", env, { username: "flag-user", password: "flag-pw" }],
    [
      "-u pairs with the password from the environment",
      "flag-user",
      undefined,
      env,
      { username: "flag-user", password: "env-pw" },
    ],
    [
      "explicitly empty flags are not replaced: no credentials",
      "",
      "",
      env,
      { username: undefined, password: undefined },
    ],
    ["nothing anywhere", undefined, undefined, {}, { username: undefined, password: undefined }],
    [
      "empty variables are unset",
      undefined,
      undefined,
      { KUBESCAPE_REGISTRY_USERNAME: "", KUBESCAPE_REGISTRY_PASSWORD: "" },
      { username: undefined, password: undefined },
    ],
  ])("%s", (_what, u, p, e, want) => {
    expect(patchCredentialFlags(u, p, e)).toEqual(want);
  });
});
