/**
 * The native ldconfig reads the image's unchanged libraries from the ELF summaries made while
 * the layers were indexed (issue 13): over a whole patch layer build of nginx-bullseye with the
 * filesystem view patch-image opens (backend capture patterns and file summaries), the base layer
 * is read ONCE. A library directory only /etc/ld.so.conf names (outside the summary globs) is
 * still read, from its own layer. ORACLE: the image's own ldconfig, run in a chroot of the
 * patched image, finds nothing to change: the same /etc/ld.so.cache bytes and the same SONAME
 * links.
 */
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import type { Image } from "../../src/image/image.js";
import { mutateImage } from "../../src/image/mutate.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { MemoryLayer } from "../../src/rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { withChroot } from "../harness/chroot.js";
import { type CachedDeb, debianDeb, fetchedDeb } from "../harness/debian-packages.js";
import { ensureImage } from "../harness/images.js";
import { unpackImage } from "../harness/oracle.js";
import { dirNames } from "../harness/rootfs-diff.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-ldconfig-summaries-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Build the patch layer of `debs` on `image` with the view patch-image opens; unpack the result. */
async function patch(image: Image, debs: readonly CachedDeb[], tag: string) {
  const fs = new LayeredFs(await image.layers(), image.description, {
    ...backendViewOptions(),
    scratchDir: work,
  });
  try {
    const inventory = await readInventoryFromFs(fs);
    const packages = debs.map((d) => fetchedDeb(inventory, d));
    const result = await buildPatchLayer({
      fs,
      inventory,
      packages,
      compression: "gzip",
      layerPath: join(work, `${tag}.tar.gz`),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
    const stats = fs.stats();
    const patched = await mutateImage(image, {
      append: [result.layer],
      history: [{ created_by: "ocipatch test", comment: "patch layer" }],
    });
    const layout = join(work, `${tag}-layout`);
    await openSink(`oci:${layout}:patched`).write(patched);
    const { rootfs } = await unpackImage(`oci:${layout}:patched`, join(work, `${tag}-bundle`));
    return { result, stats, rootfs };
  } finally {
    await fs.close();
  }
}

/** The image's own ldconfig in the patched tree must leave the cache and the links as they are. */
async function expectRealLdconfigAgrees(rootfs: string, dirs: readonly string[]) {
  const ours = readFileSync(join(rootfs, "etc/ld.so.cache"));
  const linksBefore = dirs.map((d) => dirNames(join(rootfs, d)));
  const listed = await withChroot(rootfs, async (c) => {
    await c.run(["ldconfig"]);
    return (await c.run(["ldconfig", "-p"])).stdout;
  });
  const real = readFileSync(join(rootfs, "etc/ld.so.cache"));
  expect(ours.equals(real), "/etc/ld.so.cache differs from the image's own ldconfig's").toBe(true);
  expect(dirs.map((d) => dirNames(join(rootfs, d)))).toEqual(linksBefore);
  return listed;
}

// libz's file name changes (1.2.11 → 1.2.13) and libyaml is new: the libc-bin trigger runs ldconfig
const upgrades = (): CachedDeb[] => [debianDeb("bookworm", "zlib1g"), debianDeb("bullseye", "libyaml-0-2")];

describe("native ldconfig from the layer index's ELF summaries", () => {
  it("nginx-bullseye: the base layer is read once over the whole layer build; the cache is the real ldconfig's", async () => {
    const img = await ensureImage("nginx-bullseye");
    const image = (await openImage(img.ociRef)) as Image;
    const { result, stats, rootfs } = await patch(image, upgrades(), "plain");
    const ld = result.maintainerEffects?.filter((e) => e.effect === "ldconfig") ?? [];
    expect(ld.map((e) => e.status)).toEqual(["applied natively", "applied natively"]);
    // every library of the four directories was read: ~90 of them, none by reading a layer again
    const filesRead = Number(/(\d+) files read/.exec(ld[0]!.detail)?.[1]);
    expect(filesRead).toBeGreaterThan(50);
    // every layer (the base and nginx's) indexed once and never read again (without the summaries: twice)
    expect(stats.layers.map((l) => [l.index, l.reads])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    const listed = await expectRealLdconfigAgrees(rootfs, [
      "lib/x86_64-linux-gnu",
      "usr/lib/x86_64-linux-gnu",
    ]);
    expect(listed).toContain("libyaml-0.so.2");
    expect(readlinkSync(join(rootfs, "lib/x86_64-linux-gnu/libz.so.1"))).toBe("libz.so.1.2.13");
  }, 600_000);

  it("a directory only /etc/ld.so.conf names is read from its layer (no summary), the base layer still once", async () => {
    const img = await ensureImage("nginx-bullseye");
    const image = (await openImage(img.ociRef)) as Image;
    // a vendor library (the host's real libz, another file name) in /opt/vendor, named by ld.so.conf.d
    const libz = readFileSync("/usr/lib/x86_64-linux-gnu/libz.so.1");
    const vendor = await MemoryLayer.of([
      { name: "etc/", type: "directory" },
      { name: "etc/ld.so.conf.d/", type: "directory" },
      { name: "etc/ld.so.conf.d/00-vendor.conf", content: "/opt/vendor\n" },
      { name: "opt/", type: "directory" },
      { name: "opt/vendor/", type: "directory" },
      { name: "opt/vendor/libz.so.1.2.99", content: libz, mode: 0o755 },
    ]);
    const withVendor = await mutateImage(image, {
      append: [vendor],
      history: [{ created_by: "ocipatch test", comment: "vendor library" }],
    });
    const top = (await withVendor.layers()).length - 1;
    const { result, stats, rootfs } = await patch(withVendor, upgrades(), "vendor");
    const ld = result.maintainerEffects?.filter((e) => e.effect === "ldconfig") ?? [];
    expect(ld.map((e) => e.status)).toEqual(["applied natively", "applied natively"]);
    const reads = JSON.stringify(stats.layers.map((l) => [l.index, l.reads]));
    expect(stats.layers.find((l) => l.index === 0)?.reads, reads).toBe(1);
    // indexed once, read once more for the library without a summary
    expect(stats.layers.find((l) => l.index === top)?.reads, reads).toBe(2);
    // ldconfig links the vendor library's soname in its directory, and lists it first
    expect(readlinkSync(join(rootfs, "opt/vendor/libz.so.1"))).toBe("libz.so.1.2.99");
    const listed = await expectRealLdconfigAgrees(rootfs, [
      "opt/vendor",
      "lib/x86_64-linux-gnu",
      "usr/lib/x86_64-linux-gnu",
    ]);
    expect(listed).toContain("=> /opt/vendor/libz.so.1");
  }, 600_000);
});
