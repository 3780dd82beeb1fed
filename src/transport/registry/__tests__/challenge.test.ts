import { describe, expect, it } from "vitest";
import { parseWwwAuthenticate, pickChallenge } from "../challenge.js";

describe("WWW-Authenticate", () => {
  it("parses a Bearer challenge with quoted parameters", () => {
    const [c] = parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
    );
    expect(c).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:samalba/my-app:pull,push",
      },
    });
  });

  it("parses Basic, escapes, spaces and several challenges in one header", () => {
    const cs = parseWwwAuthenticate(
      'Basic realm="my \\"realm\\"", Bearer realm=https://t.example/token , error=insufficient_scope',
    );
    expect(cs).toEqual([
      { scheme: "basic", params: { realm: 'my "realm"' } },
      { scheme: "bearer", params: { realm: "https://t.example/token", error: "insufficient_scope" } },
    ]);
    expect(pickChallenge(cs)?.scheme).toBe("bearer");
  });

  it("accepts several header values and ignores garbage", () => {
    expect(parseWwwAuthenticate(['Basic realm="a"', "Negotiate"]).map((c) => c.scheme)).toEqual([
      "basic",
      "negotiate",
    ]);
    expect(parseWwwAuthenticate("")).toEqual([]);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(pickChallenge(parseWwwAuthenticate("Negotiate"))).toBeUndefined();
  });
});
