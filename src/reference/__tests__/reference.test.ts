import { describe, expect, it } from "vitest";
import { familiarReference, formatReference, parseReference } from "../reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference normalises like Docker", () => {
  const cases: Array<[string, string, string]> = [
    // input, fully qualified, familiar
    ["nginx", "docker.io/library/nginx:latest", "nginx:latest"],
    ["nginx:1.22", "docker.io/library/nginx:1.22", "nginx:1.22"],
    ["docker.io/library/nginx:1.22", "docker.io/library/nginx:1.22", "nginx:1.22"],
    ["index.docker.io/library/nginx", "docker.io/library/nginx:latest", "nginx:latest"],
    ["user/app", "docker.io/user/app:latest", "user/app:latest"],
    ["localhost/app", "localhost/app:latest", "localhost/app:latest"],
    ["localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000/app:v1"],
    ["127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"],
    ["quay.io/org/img", "quay.io/org/img:latest", "quay.io/org/img:latest"],
    ["Registry.Example.com/img", "Registry.Example.com/img:latest", "Registry.Example.com/img:latest"],
    [`nginx@${D}`, `docker.io/library/nginx@${D}`, `nginx@${D}`],
    [`nginx:1.22@${D}`, `docker.io/library/nginx:1.22@${D}`, `nginx:1.22@${D}`],
    ["[::1]:5000/app:x", "[::1]:5000/app:x", "[::1]:5000/app:x"],
    ["a__b/c-d.e_f", "docker.io/a__b/c-d.e_f:latest", "a__b/c-d.e_f:latest"],
    ["host:5000/img:Tag_1.0-rc", "host:5000/img:Tag_1.0-rc", "host:5000/img:Tag_1.0-rc"],
  ];
  it.each(cases)("%s", (input, full, familiar) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(full);
    expect(familiarReference(ref)).toBe(familiar);
  });

  it("keeps registry, repository, tag and digest apart", () => {
    expect(parseReference(`127.0.0.1:5000/ns/app:v2@${D}`)).toEqual({
      registry: "127.0.0.1:5000",
      repository: "ns/app",
      tag: "v2",
      digest: D,
    });
    expect(parseReference(`app@${D}`).tag).toBeUndefined();
  });
});

describe("parseReference rejects malformed references", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["Nginx", /lowercase/],
    ["UPPER/Case", /lowercase/],
    ["docker.io/Library/nginx", /lowercase/],
    ["nginx:", /invalid tag/],
    ["nginx:-bad", /invalid tag/],
    [`nginx:${"x".repeat(129)}`, /invalid tag/],
    ["nginx@sha256:abc", /invalid digest/],
    [`nginx@md5:${"a".repeat(32)}`, /unsupported digest/],
    ["a".repeat(64), /64-byte/],
    ["host:5000/", /invalid repository/],
    ["-leading/dash", /invalid repository/],
    ["double//slash", /invalid repository/],
    ["trailing-/x", /invalid repository/],
    ["sp ace", /invalid repository/],
    ["bad_host:5000x/app", /invalid registry|invalid tag|invalid repository/],
  ];
  it.each(bad)("%j", (input, why) => {
    expect(() => parseReference(input)).toThrow(why);
  });
  it("errors carry the REFERENCE_INVALID code", () => {
    try {
      parseReference("Nope/Nope");
      expect.unreachable();
    } catch (e) {
      expect((e as { code?: string }).code).toBe("REFERENCE_INVALID");
    }
  });
});
