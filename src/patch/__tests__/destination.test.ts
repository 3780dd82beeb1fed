import { describe, expect, it } from "vitest";
import { patchDestination } from "../destination.js";
import { reportStem } from "../write-reports.js";

describe("patchDestination", () => {
  it.each([
    ["docker.io/library/nginx:1.22", {}, "docker.io/library/nginx:1.22-patched"],
    ["nginx", {}, "docker.io/library/nginx:latest-patched"],
    ["localhost:5000/app:v1", {}, "localhost:5000/app:v1-patched"],
    ["localhost:5000/app:v1", { tag: "fixed" }, "localhost:5000/app:fixed"],
    ["localhost:5000/app:v1", { tag: "other.example/x/y:z" }, "other.example/x/y:z"],
    ["localhost:5000/app@sha256:" + "a".repeat(64), {}, "localhost:5000/app:latest-patched"],
    ["oci:/tmp/layout:v1", {}, "oci:/tmp/layout:v1-patched"],
    ["oci:/tmp/layout:v1", { tag: "x" }, "oci:/tmp/layout:x"],
    ["nginx:1.22", { dest: "oci:/tmp/out:p" }, "oci:/tmp/out:p"],
    ["docker-archive:/tmp/a.tar", { dest: "docker-archive:/tmp/b.tar" }, "docker-archive:/tmp/b.tar"],
  ])("%s %o -> %s", (src, opts, want) => {
    expect(patchDestination(src, opts)).toBe(want);
  });

  it.each([
    ["nginx:1.22", { tag: "a", dest: "oci:/x" }, /either --tag or --dest/],
    ["docker-archive:/tmp/a.tar", {}, /--dest/],
    ["nginx:1.22", { tag: "x/y@sha256:" + "b".repeat(64) }, /digest/],
    ["oci:/tmp/l:v1", { tag: "reg/x:y" }, /takes a tag/],
    ["nginx:1.22", { tag: "" }, /empty/],
  ])("%s %o is refused", (src, opts, msg) => {
    expect(() => patchDestination(src, opts)).toThrow(msg);
  });

  it("keeps tags within 128 characters", () => {
    const long = "t".repeat(128);
    const d = patchDestination(`localhost:5000/app:${long}`, {});
    expect(d.split(":").pop()!.length).toBe(128);
    expect(d.endsWith("-patched")).toBe(true);
  });
});

describe("reportStem", () => {
  it.each([
    ["docker.io/library/nginx:1.22", "docker.io-library-nginx:1.22"],
    ["localhost:5000/team/app:v1", "localhost:5000-team-app:v1"],
    ["oci:/tmp/layout:v1", "tmp-layout:v1"],
  ])("%s -> %s", (loc, stem) => {
    expect(reportStem(loc)).toBe(stem);
  });
});
