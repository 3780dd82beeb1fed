import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import { formatReference } from "../../reference/index.js";
import { formatImageLocation, type ImageLocation, parseImageLocation } from "../parse.js";

const D = `sha256:${"b".repeat(64)}`;

/** A location as plain data, references fully qualified, for comparisons. */
function plain(loc: ImageLocation): Record<string, unknown> {
  switch (loc.transport) {
    case "docker":
      return { transport: "docker", ref: formatReference(loc.ref) };
    case "oci":
      return { transport: "oci", dir: loc.dir, tag: loc.tag };
    case "docker-archive":
      return {
        transport: "docker-archive",
        file: loc.file,
        ref: loc.ref ? formatReference(loc.ref) : undefined,
        sourceIndex: loc.sourceIndex,
      };
    case "docker-daemon":
      return { transport: "docker-daemon", ref: formatReference(loc.ref) };
    case "oci-archive":
      return { transport: "oci-archive", file: loc.file, tag: loc.tag };
  }
}

describe("parseImageLocation: valid locations", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    // docker references without a transport
    ["nginx", { transport: "docker", ref: "docker.io/library/nginx:latest" }],
    ["nginx:1.22", { transport: "docker", ref: "docker.io/library/nginx:1.22" }],
    ["localhost:5000/img:tag", { transport: "docker", ref: "localhost:5000/img:tag" }],
    ["127.0.0.1:5000/a/b", { transport: "docker", ref: "127.0.0.1:5000/a/b:latest" }],
    ["foo:bar", { transport: "docker", ref: "docker.io/library/foo:bar" }],
    [`nginx@${D}`, { transport: "docker", ref: `docker.io/library/nginx@${D}` }],
    ["[::1]:5000/app:v1", { transport: "docker", ref: "[::1]:5000/app:v1" }],
    // docker://
    ["docker://nginx:1.22", { transport: "docker", ref: "docker.io/library/nginx:1.22" }],
    ["docker://localhost:5000/x/y:z", { transport: "docker", ref: "localhost:5000/x/y:z" }],
    // oci:
    ["oci:/tmp/x", { transport: "oci", dir: "/tmp/x", tag: undefined }],
    ["oci:/tmp/x:latest", { transport: "oci", dir: "/tmp/x", tag: "latest" }],
    ["oci:./dir:tag", { transport: "oci", dir: "./dir", tag: "tag" }],
    ["oci:dir", { transport: "oci", dir: "dir", tag: undefined }],
    ["oci:dir:1.0_rc-1", { transport: "oci", dir: "dir", tag: "1.0_rc-1" }],
    ["oci:/tmp/a:b/c", { transport: "oci", dir: "/tmp/a:b/c", tag: undefined }],
    ["oci:/tmp/a:b/c:v2", { transport: "oci", dir: "/tmp/a:b/c", tag: "v2" }],
    // tags by the image-spec's ref.name grammar, as skopeo reads them
    ["oci:/tmp/x:v1+build.7", { transport: "oci", dir: "/tmp/x", tag: "v1+build.7" }],
    ["oci:/tmp/x:Name--x@y", { transport: "oci", dir: "/tmp/x", tag: "Name--x@y" }],
    // docker-archive:
    ["docker-archive:/tmp/a.tar", { transport: "docker-archive", file: "/tmp/a.tar" }],
    [
      "docker-archive:a.tar:name:tag",
      { transport: "docker-archive", file: "a.tar", ref: "docker.io/library/name:tag" },
    ],
    [
      "docker-archive:a.tar:localhost:5000/ns/app:v1",
      { transport: "docker-archive", file: "a.tar", ref: "localhost:5000/ns/app:v1" },
    ],
    [
      "docker-archive:a.tar:app",
      { transport: "docker-archive", file: "a.tar", ref: "docker.io/library/app:latest" },
    ],
    ["docker-archive:a.tar:@2", { transport: "docker-archive", file: "a.tar", sourceIndex: 2 }],
    // docker-daemon: (the local engine store)
    ["docker-daemon:nginx", { transport: "docker-daemon", ref: "docker.io/library/nginx:latest" }],
    ["docker-daemon:localhost:5000/app:v1", { transport: "docker-daemon", ref: "localhost:5000/app:v1" }],
    // oci-archive:
    ["oci-archive:/tmp/a.tar", { transport: "oci-archive", file: "/tmp/a.tar", tag: undefined }],
    ["oci-archive:a.tar:v1", { transport: "oci-archive", file: "a.tar", tag: "v1" }],
  ];
  it.each(cases)("%s", (input, expected) => {
    const loc = parseImageLocation(input);
    const want = Object.fromEntries(Object.entries(expected).filter(([, v]) => v !== undefined));
    const got = Object.fromEntries(Object.entries(plain(loc)).filter(([, v]) => v !== undefined));
    expect(got).toEqual(want);
    // the canonical form parses back to the same location
    expect(plain(parseImageLocation(formatImageLocation(loc)))).toEqual(plain(loc));
  });
});

describe("parseImageLocation: errors", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["", "REFERENCE_INVALID", /empty/],
    [
      "foo:/tmp/x",
      "TRANSPORT_UNKNOWN",
      /unknown transport "foo".*docker:\/\/REF, docker-daemon:REF, oci:DIR/,
    ],
    ["ftp://host/x", "TRANSPORT_UNKNOWN", /unknown transport "ftp"/],
    ["http://example.com/img", "TRANSPORT_UNKNOWN", /unknown transport "http"/],
    ["foo:bar/baz", "TRANSPORT_UNKNOWN", /unknown transport "foo"/],
    ["dir:/tmp/x", "TRANSPORT_UNKNOWN", /"dir" is not supported/],
    ["oci-archive:", "REFERENCE_INVALID", /missing file/],
    ["docker-daemon:", "REFERENCE_INVALID", /missing reference/],
    ["docker-daemon:Bad Name", "REFERENCE_INVALID", /Bad Name/],
    ["containers-storage:nginx", "TRANSPORT_UNKNOWN", /not supported/],
    ["docker:nginx", "REFERENCE_INVALID", /docker:\/\/REF/],
    ["docker://", "REFERENCE_INVALID", /missing reference/],
    ["docker://Nginx", "REFERENCE_INVALID", /lowercase/],
    ["Nginx:1.22", "REFERENCE_INVALID", /lowercase/],
    ["nginx:bad tag", "REFERENCE_INVALID", /invalid/],
    ["oci:", "REFERENCE_INVALID", /missing directory/],
    ["oci::tag", "REFERENCE_INVALID", /missing directory/],
    ["oci:/tmp/x:", "REFERENCE_INVALID", /empty tag/],
    // not a tag: refused (skopeo: "Invalid image bad tag"), never part of the directory name
    ["oci:/tmp/x/lay1:bad tag", "REFERENCE_INVALID", /invalid tag "bad tag"/],
    ["oci:/tmp/x:-x", "REFERENCE_INVALID", /invalid tag "-x"/],
    ["oci:/tmp/x:_x", "REFERENCE_INVALID", /invalid tag "_x"/],
    ["oci:/tmp/x:a__b", "REFERENCE_INVALID", /invalid tag "a__b"/],
    ["oci:/tmp/x:v1.", "REFERENCE_INVALID", /invalid tag "v1."/],
    ["oci:/tmp/x:é", "REFERENCE_INVALID", /invalid tag "é"/],
    ["oci-archive:/tmp/x.tar:bad tag", "REFERENCE_INVALID", /invalid tag "bad tag"/],
    ["docker-archive:", "REFERENCE_INVALID", /missing file/],
    ["docker-archive::name", "REFERENCE_INVALID", /missing file/],
    ["docker-archive:a.tar:", "REFERENCE_INVALID", /empty reference/],
    ["docker-archive:a.tar:@x", "REFERENCE_INVALID", /@N/],
    [`docker-archive:a.tar:app@${D}`, "REFERENCE_INVALID", /by tag, not by digest/],
    ["docker-archive:a.tar:UPPER", "REFERENCE_INVALID", /in "docker-archive:a.tar:UPPER"/],
  ];
  it.each(cases)("%j → %s", (input, code, message) => {
    let err: unknown;
    try {
      parseImageLocation(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OcipatchError);
    const e = err as OcipatchError;
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain("\n");
  });
});
