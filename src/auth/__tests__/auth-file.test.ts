import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { entryCredentials, lookupAuthFile, parseAuthFile } from "../auth-file.js";
import { helperServerUrl, normalizeRegistryHost, splitAuthKey } from "../hosts.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("registry host names in credential stores", () => {
  it("normalises schemes, paths and case", () => {
    expect(normalizeRegistryHost("https://Registry.Example.com:5000/v2/")).toBe("registry.example.com:5000");
    expect(normalizeRegistryHost("127.0.0.1:5000")).toBe("127.0.0.1:5000");
  });

  it("treats Docker Hub aliases as one registry", () => {
    for (const k of ["docker.io", "index.docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"]) {
      expect(normalizeRegistryHost(k)).toBe("docker.io");
    }
    expect(helperServerUrl("docker.io")).toBe("https://index.docker.io/v1/");
    expect(helperServerUrl("ghcr.io")).toBe("ghcr.io");
  });

  it("splits repository-scoped keys (containers auth.json)", () => {
    expect(splitAuthKey("quay.io/org/app")).toEqual({ host: "quay.io", path: "org/app" });
    expect(splitAuthKey("https://index.docker.io/v1/")).toEqual({ host: "docker.io", path: undefined });
  });
});

describe("auth file entries", () => {
  it("decodes base64 auth, keeping colons in the password", () => {
    expect(entryCredentials({ auth: b64("user:pa:ss") }, "x")).toEqual({
      username: "user",
      password: "pa:ss",
    });
  });

  it("reads username/password fields, identity and registry tokens", () => {
    expect(entryCredentials({ username: "u", password: "p" }, "x")).toEqual({ username: "u", password: "p" });
    expect(entryCredentials({ auth: b64("u:"), identitytoken: "refresh" }, "x")).toEqual({
      identityToken: "refresh",
      username: "u",
    });
    expect(entryCredentials({ registrytoken: "tok" }, "x")).toEqual({ registryToken: "tok" });
    expect(entryCredentials({}, "x")).toBeUndefined();
  });

  it("rejects an auth field that is not user:password, without quoting it", () => {
    try {
      entryCredentials({ auth: b64("nocolon-secret") }, "/h/.docker/config.json");
      expect.unreachable();
    } catch (e) {
      expect(isOcipatchError(e, "INVALID_FORMAT")).toBe(true);
      expect((e as Error).message).not.toContain("nocolon-secret");
    }
  });

  it("rejects invalid JSON without quoting the file", () => {
    try {
      parseAuthFile('{"auths": {"h": {"auth": "c2VjcmV0"}', "/tmp/config.json");
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe("credentials file /tmp/config.json is not valid JSON");
    }
  });
});

describe("looking a registry up in an auth file", () => {
  const file = parseAuthFile(
    JSON.stringify({
      auths: {
        "https://index.docker.io/v1/": { auth: b64("hub:hubpass") },
        "quay.io": { auth: b64("q:generic") },
        "quay.io/org": { auth: b64("q:org") },
        "quay.io/org/app": { auth: b64("q:app") },
        "gcr.io": { auth: b64("g:inline") },
      },
      credHelpers: { "ecr.example.com": "ecr-login" },
    }),
    "f",
  );

  it("matches Docker Hub under any alias", () => {
    expect(lookupAuthFile(file, "docker.io", undefined, "f")).toMatchObject({
      kind: "inline",
      credentials: { username: "hub", password: "hubpass" },
    });
    expect(lookupAuthFile(file, "index.docker.io", undefined, "f")?.kind).toBe("inline");
  });

  it("prefers the most specific repository key", () => {
    const pw = (repo?: string) => {
      const m = lookupAuthFile(file, "quay.io", repo, "f");
      return m?.kind === "inline" && "password" in m.credentials ? m.credentials.password : undefined;
    };
    expect(pw("org/app")).toBe("app");
    expect(pw("org/app/sub")).toBe("app");
    expect(pw("org/other")).toBe("org");
    expect(pw("organisation/x")).toBe("generic");
    expect(pw(undefined)).toBe("generic");
  });

  it("uses credHelpers before everything, and credsStore before inline auths", () => {
    expect(lookupAuthFile(file, "ecr.example.com", undefined, "f")).toEqual({
      kind: "helper",
      helper: "ecr-login",
    });
    const withStore = { ...file, credsStore: "pass" };
    expect(lookupAuthFile(withStore, "gcr.io", undefined, "f")).toEqual({
      kind: "helper",
      helper: "pass",
      fallback: { username: "g", password: "inline" },
    });
    expect(lookupAuthFile(file, "other.example.com", undefined, "f")).toBeUndefined();
  });
});
