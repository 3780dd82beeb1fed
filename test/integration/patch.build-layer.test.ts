/**
 * ORACLES: umoci unpacks the patched image; dpkg (in a chroot of it, or the host's dpkg on a
 * distroless status.d) audits and verifies it; the patched binary runs. The .debs are the real
 * bookworm-security updates from the host's mirror.
 */
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import { mutateImage } from "../../src/image/mutate.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { withChroot } from "../harness/chroot.js";
import { debianDeb, fetchedDeb } from "../harness/debian-packages.js";
import { ensureImage, type ImageName } from "../harness/images.js";
import { assertDpkgHealthy, dpkgChecks, dpkgList, unpackImage } from "../harness/oracle.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-patch-layer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function patchImage(name: ImageName, packages: readonly string[]) {
  const img = await ensureImage(name);
  const image = await openImage(img.ociRef);
  // the view patch-image opens: the backends' capture patterns and file summaries (ldconfig's ELF reading)
  const fs = await LayeredFs.open(image, { scratchDir: work, ...backendViewOptions() });
  try {
    const inventory = await readInventoryFromFs(fs);
    const debs = packages.map((p) => {
      const fetched = fetchedDeb(inventory, debianDeb("bookworm-security", p));
      if (!fetched.installed) throw new Error(`${p} is not installed in ${name}`);
      return fetched;
    });
    const versions = Object.fromEntries(packages.map((p) => [p, debianDeb("bookworm-security", p).version]));
    const result = await buildPatchLayer({
      fs,
      inventory,
      packages: debs,
      compression: "gzip",
      layerPath: join(work, `${name}-patch.tar.gz`),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
    const patched = await mutateImage(image, {
      append: [result.layer],
      history: [{ created_by: "ocipatch test", comment: "patch layer" }],
    });
    const layout = join(work, `${name}-layout`);
    await openSink(`oci:${layout}:patched`).write(patched);
    const unpacked = await unpackImage(`oci:${layout}:patched`, join(work, `${name}-bundle`));
    return { result, rootfs: unpacked.rootfs, versions, before: img.packagesBefore };
  } finally {
    await fs.close();
  }
}

function isSymlink(p: string): boolean {
  return lstatSync(p).isSymbolicLink();
}

describe("patch layer on real images", () => {
  it("upgrades openssl + libssl3 on nginx-bookworm (merged-/usr, 2 layers)", async () => {
    const { result, rootfs, versions, before } = await patchImage("nginx-bookworm", ["openssl", "libssl3"]);
    expect(result.packages.map((p) => [p.package, p.fromVersion, p.toVersion])).toEqual([
      ["openssl", before["openssl"], versions["openssl"]],
      ["libssl3", before["libssl3:amd64"], versions["libssl3"]],
    ]);
    expect(result.scriptReports?.map((r) => r.package)).toEqual(["openssl", "libssl3"]);
    expect(result.warnings).toEqual([]);
    expect(result.removed).toEqual([]); // nothing moved or vanished between these versions

    // merged-/usr stays merged
    for (const d of ["bin", "sbin", "lib", "lib64"]) expect(isSymlink(join(rootfs, d)), d).toBe(true);

    const list = await dpkgList(rootfs);
    expect(list.get("openssl")).toBe(versions["openssl"]);
    expect(list.get("libssl3:amd64")).toBe(versions["libssl3"]);
    expect(list.get("curl")).toBe(before["curl"]);

    const checks = await dpkgChecks(rootfs, { apt: false });
    assertDpkgHealthy(checks, "patched nginx-bookworm");
    expect(checks.mode).toBe("chroot");
    expect(checks.verify.filter((l) => /ssl/.test(l))).toEqual([]);

    // ldconfig (libssl3's trigger): same library names and links, so the cache needs nothing —
    // the real ldconfig, run in the patched image, leaves `ldconfig -p` exactly as it was
    expect(result.maintainerEffects?.map((e) => [e.package, e.effect, e.status])).toEqual([
      ["libssl3", "ldconfig", "not needed"],
    ]);
    const cacheEntries = async () => (await withChroot(rootfs, (c) => c.run(["ldconfig", "-p"]))).stdout;
    const listedBefore = await cacheEntries();
    expect(listedBefore).toMatch(/libssl\.so\.3 \(libc6,x86-64\) => /);
    await withChroot(rootfs, (c) => c.run(["ldconfig"]));
    expect(await cacheEntries()).toBe(listedBefore);

    const upstream = versions["openssl"]!.replace(/-.*$/, "");
    const out = await withChroot(rootfs, (c) => c.run(["/usr/bin/openssl", "version"]));
    expect(out.stdout).toContain(`OpenSSL ${upstream}`);
    // the status file was rewritten once, with every other record intact
    const status = readFileSync(join(rootfs, "var/lib/dpkg/status"), "utf8");
    expect(status.match(/^Package: /gm)?.length).toBe(Object.keys(before).length);
  });

  it("upgrades libssl3 on distroless-bookworm (status.d, no dpkg)", async () => {
    const { result, rootfs, versions } = await patchImage("distroless-bookworm", ["libssl3"]);
    expect(result.packages[0]?.toVersion).toBe(versions["libssl3"]);
    for (const d of ["bin", "sbin", "lib", "lib64"]) expect(isSymlink(join(rootfs, d)), d).toBe(true);
    const list = await dpkgList(rootfs);
    expect(list.get("libssl3:amd64") ?? list.get("libssl3")).toBe(versions["libssl3"]);
    const checks = await dpkgChecks(rootfs, { apt: false });
    assertDpkgHealthy(checks, "patched distroless-bookworm");
    expect(checks.mode).toBe("host");
    expect(checks.verify).toEqual([]);
    // distroless keeps no dpkg info directory: none is created
    expect(() => lstatSync(join(rootfs, "var/lib/dpkg/info"))).toThrow();
    expect(() => lstatSync(join(rootfs, "var/lib/dpkg/status"))).toThrow();
  });
});
