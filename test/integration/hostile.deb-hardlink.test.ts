/**
 * A .deb whose data.tar holds a hardlink to a path that is not earlier in the package (issue 15):
 * the patch layer builder refuses it (HOSTILE_LAYER) instead of skipping it with a warning.
 * The real builder on a real image (debian-bookworm); the .deb is written here with Python's
 * tarfile and binutils ar.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { ensureImage } from "../harness/images.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-hostile-deb-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MKTAR = `
import sys, tarfile, io
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as t:
    for name, kind, link in [("./", "dir", ""), ("./usr/", "dir", ""), ("./usr/bin/", "dir", ""),
                             ("./usr/bin/present", "file", ""), ("./usr/bin/linked", "lnk", "./usr/bin/missing")]:
        i = tarfile.TarInfo(name)
        i.type = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "lnk": tarfile.LNKTYPE}[kind]
        i.linkname = link
        i.mode = 0o755
        data = b"x\\n" if kind == "file" else b""
        i.size = len(data)
        t.addfile(i, io.BytesIO(data) if kind == "file" else None)
`;

function hostileDeb(): string {
  const d = join(work, "deb");
  mkdirSync(join(d, "ctl"), { recursive: true });
  writeFileSync(join(d, "debian-binary"), "2.0\n");
  writeFileSync(
    join(d, "ctl", "control"),
    "Package: evil-links\nVersion: 1.0\nArchitecture: amd64\nMaintainer: x <x@example.org>\nDescription: test\n",
  );
  execFileSync("tar", ["-czf", join(d, "control.tar.gz"), "-C", join(d, "ctl"), "./control"]);
  execFileSync("python3", ["-c", MKTAR, join(d, "data.tar.gz")]);
  const deb = join(work, "evil-links_1.0_amd64.deb");
  execFileSync("ar", ["rcS", deb, "debian-binary", "control.tar.gz", "data.tar.gz"], { cwd: d });
  return deb;
}

describe("patch layer builder", () => {
  it("refuses a .deb hardlink whose target is not earlier in the package", async () => {
    const img = await ensureImage("debian-bookworm");
    const image = await openImage(img.ociRef);
    const fs = await LayeredFs.open(image, { scratchDir: work });
    try {
      const inventory = await readInventoryFromFs(fs);
      const err = await buildPatchLayer({
        fs,
        inventory,
        packages: [{ package: "evil-links", architecture: "amd64", path: hostileDeb() }],
        compression: "gzip",
        layerPath: join(work, "patch.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: "HOSTILE_LAYER",
        message: expect.stringMatching(/hardlink \/usr\/bin\/linked points to \/usr\/bin\/missing/),
      });
    } finally {
      await fs.close();
    }
  }, 300_000);
});
