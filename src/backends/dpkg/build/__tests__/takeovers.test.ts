import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { MediaTypes } from "../../../../image/media-types.js";
import type { EntrySpec } from "../../../../rootfs/__tests__/synthetic.js";
import { buildPatchLayer } from "../index.js";
import { buildDeb, dir, file, imageOf, md5, mergedUsrBase, readLayer } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-takeovers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A directory of its own for a test's .debs (buildDeb builds each in `<dir>/<name>_<version>-root`). */
function subdir(name: string): string {
  const d = join(work, name);
  mkdirSync(d);
  return d;
}

const control = (name: string, v: string, extra = "") =>
  `Package: ${name}\nVersion: ${v}\nArchitecture: amd64\nMaintainer: Test <test@example.org>\n${extra}Description: ${name}\n`;

/** A distroless image with foo 1.0 and bar 1.0 (bar's control ends with `barExtra`), bar having /usr/share/b/x. */
async function distrolessFooBar(barExtra: string) {
  const image: EntrySpec[] = [
    ...mergedUsrBase().filter(
      (e) => !e.name.startsWith("./var/lib/dpkg/info") && e.name !== "./usr/bin/dpkg",
    ),
    dir("./usr/share/b/"),
    file("./usr/share/b/x", "bar's x\n"),
    file("./usr/share/foo", "foo 1\n"),
    dir("./var/lib/dpkg/status.d/"),
    file("./var/lib/dpkg/status.d/bar", control("bar", "1.0", barExtra)),
    file("./var/lib/dpkg/status.d/bar.md5sums", `${md5("bar's x\n")}  usr/share/b/x\n`),
    file("./var/lib/dpkg/status.d/foo", control("foo", "1.0")),
    file("./var/lib/dpkg/status.d/foo.md5sums", `${md5("foo 1\n")}  usr/share/foo\n`),
  ];
  return imageOf([image]);
}

// status layout: test/integration/build-layer.dpkg-takeovers.test.ts (real dpkg decides)
describe("takeovers on a distroless image (status.d)", () => {
  it("a package that lost files keeps the rest in its .md5sums; one that lost all of them is erased", async () => {
    const image: EntrySpec[] = [
      ...mergedUsrBase().filter(
        (e) => !e.name.startsWith("./var/lib/dpkg/info") && e.name !== "./usr/bin/dpkg",
      ),
      dir("./usr/share/b/"),
      file("./usr/share/b/x", "x\n"),
      file("./usr/share/b/y", "y\n"),
      dir("./usr/share/z/"),
      file("./usr/share/z/z1", "z1\n"),
      file("./usr/share/foo", "foo 1\n"),
      dir("./var/lib/dpkg/status.d/"),
      file("./var/lib/dpkg/status.d/bar", control("bar", "1.0")),
      file(
        "./var/lib/dpkg/status.d/bar.md5sums",
        `${md5("x\n")}  usr/share/b/x\n${md5("y\n")}  usr/share/b/y\n`,
      ),
      file("./var/lib/dpkg/status.d/baz", control("baz", "1.0")),
      file("./var/lib/dpkg/status.d/baz.md5sums", `${md5("z1\n")}  usr/share/z/z1\n`),
      file("./var/lib/dpkg/status.d/foo", control("foo", "1.0")),
      file("./var/lib/dpkg/status.d/foo.md5sums", `${md5("foo 1\n")}  usr/share/foo\n`),
    ];
    const { fs, inventory } = await imageOf([image]);
    const deb = buildDeb(work, {
      name: "foo",
      version: "2.0",
      replaces: "bar, baz",
      files: { "usr/share/foo": "foo 2\n", "usr/share/b/x": "x 2\n", "usr/share/z/z1": "z1 2\n" },
    });
    const r = await buildPatchLayer({
      fs,
      inventory,
      packages: [
        {
          package: "foo",
          architecture: "amd64",
          path: deb,
          installed: inventory.packages.find((p) => p.name === "foo"),
        },
      ],
      compression: "gzip",
      layerPath: join(work, "layer.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: MediaTypes.ociManifest,
      now: new Date("2026-01-02T03:04:05Z"),
    });
    const L = await readLayer(r.layer);
    expect(L.get("var/lib/dpkg/status.d/bar.md5sums")?.content).toBe(`${md5("y\n")}  usr/share/b/y\n`);
    expect(L.has("var/lib/dpkg/status.d/bar")).toBe(false);
    expect(L.has("var/lib/dpkg/status.d/.wh.baz")).toBe(true);
    expect(L.has("var/lib/dpkg/status.d/.wh.baz.md5sums")).toBe(true);
    expect(r.erased).toEqual([{ name: "baz", architecture: "amd64" }]);
    expect(r.installed?.map((p) => p.name)).toEqual(["foo"]);
    expect(r.warnings).toEqual(["baz 1.0 disappeared: foo took over every file it had"]);
  });

  it("a file of an installed package that replaces the upgraded one stays that package's", async () => {
    const { fs, inventory } = await distrolessFooBar("Replaces: foo\n");
    const deb = buildDeb(subdir("kept"), {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo": "foo 2\n", "usr/share/b/x": "foo's x\n" },
    });
    const r = await buildPatchLayer({
      fs,
      inventory,
      packages: [
        {
          package: "foo",
          architecture: "amd64",
          path: deb,
          installed: inventory.packages.find((p) => p.name === "foo"),
        },
      ],
      compression: "gzip",
      layerPath: join(work, "layer-kept.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: MediaTypes.ociManifest,
      now: new Date("2026-01-02T03:04:05Z"),
    });
    const L = await readLayer(r.layer);
    expect(L.get("usr/share/foo")?.content).toBe("foo 2\n");
    expect(L.has("usr/share/b/x")).toBe(false);
    expect(L.has("var/lib/dpkg/status.d/bar.md5sums")).toBe(false);
    expect(L.get("var/lib/dpkg/status.d/foo.md5sums")?.content).toBe(`${md5("foo 2\n")}  usr/share/foo\n`);
    expect(r.erased).toBeUndefined();
    expect(r.warnings).toEqual([
      "foo 2.0: replaced by files in installed package bar 1.0: /usr/share/b/x kept as bar has it",
    ]);
  });

  it("a file of an installed package that neither package's Replaces: covers is refused", async () => {
    const { fs, inventory } = await distrolessFooBar("");
    const deb = buildDeb(subdir("refused"), {
      name: "foo",
      version: "3.0",
      replaces: "bar (>> 1.0)",
      files: { "usr/share/foo": "foo 3\n", "usr/share/b/x": "foo's x\n" },
    });
    const e = await buildPatchLayer({
      fs,
      inventory,
      packages: [
        {
          package: "foo",
          architecture: "amd64",
          path: deb,
          installed: inventory.packages.find((p) => p.name === "foo"),
        },
      ],
      compression: "gzip",
      layerPath: join(work, "layer-refused.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: MediaTypes.ociManifest,
    }).catch((e: unknown) => e);
    expect(isOcipatchError(e, "RESOLVE"), String(e)).toBe(true);
    expect((e as Error).message).toBe(
      "foo 3.0: trying to overwrite '/usr/share/b/x', which is also in package bar 1.0 (neither package's Replaces: covers the other)",
    );
  });
});
