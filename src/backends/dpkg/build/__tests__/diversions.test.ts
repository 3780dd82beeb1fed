import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../../../errors.js";
import { MediaTypes } from "../../../../image/media-types.js";
import { Diversions } from "../diversions.js";
import { buildPatchLayer } from "../index.js";
import { buildDeb, file, imageOf, mergedUsrBase } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-diversions-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** bookworm's own (dash) and an administrator's local diversion, as dpkg-divert writes them. */
const DIVERSIONS = `/usr/share/man/man1/sh.1.gz
/usr/share/man/man1/sh.distrib.1.gz
dash
/bin/sh
/bin/sh.distrib
dash
/usr/share/foo/a
/usr/share/foo/a.distrib
:
`;

describe("Diversions", () => {
  it("places a path diverted by another package or the administrator at the divert-to path", () => {
    const d = Diversions.parse(DIVERSIONS);
    expect(d.placement("/bin/sh", "dash")).toBe("/bin/sh"); // the diverting package's own file
    expect(d.placement("/bin/sh", "bash")).toBe("/bin/sh.distrib");
    expect(d.placement("/usr/share/foo/a", "foo")).toBe("/usr/share/foo/a.distrib"); // local: everyone's
    expect(d.placement("/usr/share/foo/b", "foo")).toBe("/usr/share/foo/b");
    expect(d.of("/usr/share/foo/a")?.by).toBeUndefined();
    expect(Diversions.parse("").placement("/bin/sh", "bash")).toBe("/bin/sh");
  });

  it.each([
    ["a truncated entry", DIVERSIONS.split("\n").slice(0, 4).join("\n"), /4 lines, not three per diversion/],
    ["a relative path", "usr/x\n/usr/x.d\n:\n", /line 1: "usr\/x" → "\/usr\/x.d" is not a diversion/],
    ["an empty package", "/usr/x\n/usr/x.d\n\n", /line 1: "" is no package/],
    [
      "a path diverted twice",
      "/usr/x\n/usr/x.d\n:\n/usr/x\n/usr/x.e\n:\n",
      /line 4: \/usr\/x is diverted twice/,
    ],
  ])("refuses %s with one INVALID_FORMAT error", (_, text, message) => {
    let err: unknown;
    try {
      Diversions.parse(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("INVALID_FORMAT");
    expect((err as OcipatchError).message).toMatch(/^\/var\/lib\/dpkg\/diversions: /);
    expect((err as OcipatchError).message).toMatch(message);
  });

  it("a layer is not built over an image whose diversions file dpkg could not read", async () => {
    const status = `Package: foo
Status: install ok installed
Maintainer: Test <test@example.org>
Architecture: all
Version: 1.0
Description: foo
`;
    const { fs, inventory } = await imageOf([
      [
        ...mergedUsrBase(),
        file("./var/lib/dpkg/status", status),
        file("./var/lib/dpkg/info/foo.list", "/.\n/usr\n/usr/share\n/usr/share/foo\n/usr/share/foo/a\n"),
        file("./var/lib/dpkg/diversions", "/usr/share/foo/a\n/usr/share/foo/a.distrib\n"),
        file("./usr/share/foo/a", "a 1\n"),
      ],
    ]);
    const deb = buildDeb(work, {
      name: "foo",
      version: "2.0",
      arch: "all",
      files: { "usr/share/foo/a": "a 2\n" },
    });
    const installed = inventory.packages.find((p) => p.name === "foo");
    await expect(
      buildPatchLayer({
        fs,
        inventory,
        packages: [{ package: "foo", architecture: "all", path: deb, installed }],
        compression: "gzip",
        layerPath: join(work, "layer.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: MediaTypes.ociManifest,
      }),
    ).rejects.toMatchObject({
      code: "INVALID_FORMAT",
      message: expect.stringMatching(/diversions: 2 lines/),
    });
  });
});
