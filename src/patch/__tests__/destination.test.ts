import { describe, expect, it } from "vitest";
import { type DestinationFlags, patchDestination } from "../destination.js";
import { reportStem } from "../write-reports.js";

const where = (src: string, flags: DestinationFlags) => {
  const d = patchDestination(src, flags);
  return d.kind === "image" ? `${d.how} ${d.location}` : `rootfs ${d.dir}`;
};

describe("patchDestination", () => {
  it.each<[string, DestinationFlags, string]>([
    // default: --output-mode docker, loaded into the local engine store
    ["docker.io/library/nginx:1.22", {}, "loaded docker-daemon:nginx:1.22-patched"],
    ["nginx", {}, "loaded docker-daemon:nginx:latest-patched"],
    ["localhost:5000/app:v1", { outputMode: "image" }, "loaded docker-daemon:localhost:5000/app:v1-patched"],
    ["docker-daemon:app:v1", { tag: "fixed" }, "loaded docker-daemon:app:fixed"],
    ["oci:/tmp/layout:v1", { tag: "reg.example/x:y" }, "loaded docker-daemon:reg.example/x:y"],
    // --push: back to the source registry
    ["docker.io/library/nginx:1.22", { push: true }, "pushed docker.io/library/nginx:1.22-patched"],
    ["localhost:5000/app:v1", { push: true }, "pushed localhost:5000/app:v1-patched"],
    ["localhost:5000/app:v1", { push: true, tag: "fixed" }, "pushed localhost:5000/app:fixed"],
    ["localhost:5000/app:v1", { push: true, tag: "other.example/x/y:z" }, "pushed other.example/x/y:z"],
    [
      `localhost:5000/app@sha256:${"a".repeat(64)}`,
      { push: true },
      "pushed localhost:5000/app:latest-patched",
    ],
    ["docker-daemon:localhost:5000/app:v1", { push: true }, "pushed localhost:5000/app:v1-patched"],
    ["oci:/tmp/layout:v1", { push: true }, "exported oci:/tmp/layout:v1-patched"],
    ["oci:/tmp/layout:v1", { push: true, tag: "x" }, "exported oci:/tmp/layout:x"],
    // oci and local modes
    [
      "nginx:1.22",
      { outputMode: "oci", outputPath: "/tmp/o.tar" },
      "exported oci-archive:/tmp/o.tar:1.22-patched",
    ],
    ["nginx:1.22", { outputMode: "local", outputPath: "/tmp/root" }, "rootfs /tmp/root"],
    // --dest overrides the mode
    ["nginx:1.22", { dest: "oci:/tmp/out:p" }, "exported oci:/tmp/out:p"],
    ["nginx:1.22", { dest: "docker://localhost:5000/x:y" }, "pushed localhost:5000/x:y"],
    ["nginx:1.22", { dest: "docker-daemon:x:y", outputMode: "oci" }, "loaded docker-daemon:x:y"],
    [
      "docker-archive:/tmp/a.tar",
      { dest: "docker-archive:/tmp/b.tar" },
      "exported docker-archive:/tmp/b.tar",
    ],
  ])("%s %o -> %s", (src, flags, want) => {
    expect(where(src, flags)).toBe(want);
  });

  it.each<[string, DestinationFlags, RegExp]>([
    ["nginx:1.22", { tag: "a", dest: "oci:/x" }, /either a tag or a destination/],
    ["nginx:1.22", { push: true, dest: "oci:/x" }, /either push or a destination/],
    [
      "nginx:1.22",
      { push: true, outputMode: "oci", outputPath: "/x" },
      /push cannot be combined with output mode oci/,
    ],
    ["nginx:1.22", { push: true, outputMode: "local", outputPath: "/x" }, /output mode local/],
    ["nginx:1.22", { outputMode: "oci" }, /needs an output path/],
    ["nginx:1.22", { outputMode: "local" }, /needs an output path/],
    ["docker-archive:/tmp/a.tar", {}, /NAME:TAG/],
    ["docker-archive:/tmp/a.tar", { push: true }, /give a destination/],
    ["nginx:1.22", { tag: `x/y@sha256:${"b".repeat(64)}` }, /digest/],
    ["oci:/tmp/l:v1", { push: true, tag: "reg/x:y" }, /takes a tag/],
    ["nginx:1.22", { tag: "" }, /empty/],
  ])("%s %o is refused", (src, flags, msg) => {
    expect(() => patchDestination(src, flags)).toThrow(msg);
  });

  it("keeps tags within 128 characters", () => {
    const long = "t".repeat(128);
    const d = patchDestination(`localhost:5000/app:${long}`, { push: true });
    expect(d.location.split(":").pop()!.length).toBe(128);
    expect(d.location.endsWith("-patched")).toBe(true);
  });
});

describe("reportStem", () => {
  it.each([
    ["docker.io/library/nginx:1.22", "docker.io-library-nginx:1.22"],
    ["localhost:5000/team/app:v1", "localhost:5000-team-app:v1"],
    ["oci:/tmp/layout:v1", "tmp-layout:v1"],
    ["docker-daemon:nginx:1.22-patched", "nginx:1.22-patched"],
  ])("%s -> %s", (loc, stem) => {
    expect(reportStem(loc)).toBe(stem);
  });
});
