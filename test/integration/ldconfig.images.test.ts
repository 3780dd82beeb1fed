/**
 * The native ldconfig on the test images of every release it reproduces. ORACLE: each image's own
 * ldconfig, run in a chroot of the unpacked image, writes /etc/ld.so.cache; the native one, reading
 * the same tree, must find nothing to change (the same bytes): Debian bullseye (glibc 2.31),
 * bookworm (2.36), Ubuntu jammy (2.35, ABI tags kept) and noble (2.39).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DirView } from "../../src/backends/dpkg/maintainer-scripts/__tests__/dir-view.js";
import { ldconfigNatively } from "../../src/backends/dpkg/maintainer-scripts/ldconfig/index.js";
import { withChroot } from "../harness/chroot.js";
import { ensureImage, type ImageName } from "../harness/images.js";
import { unpackImage } from "../harness/oracle.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-ldconfig-images-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("native ldconfig against each image's own ldconfig", () => {
  it.each([
    ["nginx-bullseye", "2.31"],
    ["nginx-bookworm", "2.36"],
    ["ubuntu-jammy", "2.35"],
    ["ubuntu-noble", "2.39"],
  ] as const)(
    "%s (glibc %s): the same /etc/ld.so.cache bytes",
    async (name: ImageName, glibc) => {
      const img = await ensureImage(name);
      const { rootfs } = await unpackImage(img.ociRef, join(work, name));
      const status = readFileSync(join(rootfs, "var/lib/dpkg/status"), "utf8");
      const libc = /^Package: libc-bin\n(?:[^\n]+\n)*?Version: (\S+)$/m.exec(status)?.[1];
      expect(libc).toMatch(new RegExp(`^${glibc.replace(".", "\\.")}-`));
      const real = await withChroot(rootfs, async (c) => {
        await c.run(["ldconfig"]);
        return (await c.run(["ldconfig", "-p"])).stdout;
      });
      const view = new DirView(rootfs);
      const libcDir = (await view.realpath("/lib/x86_64-linux-gnu"))!;
      const r = await ldconfigNatively({
        view,
        architecture: "amd64",
        libcVersionBefore: libc,
        libcVersionAfter: libc,
        changed: [`${libcDir}/libc.so.6`],
        packages: ["libc6"],
      });
      expect(r.effects[0]?.status, r.effects[0]?.detail).toBe("not needed");
      expect(r.effects[0]?.detail).toMatch(
        /already lists what ldconfig would \(\d+ directories, \d+ files read/,
      );
      const listed = Number(/^(\d+) libs found/.exec(real)?.[1]);
      expect(r.effects[0]?.detail).toContain(`, ${listed} libraries)`);
    },
    300_000,
  );
});
