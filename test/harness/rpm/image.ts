/**
 * OCI images from an RPM root made by the harness (dnf --installroot): the root as one layer,
 * with the os-release of the distribution the test pretends to be (dnf's root has none).
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { newImageFromTar, setConfig } from "../build/umoci.js";
import { run } from "../exec.js";
import { makeTempDir, safeRemove } from "../fs.js";

interface RpmOsRelease {
  /** os-release ID: almalinux, rocky, rhel, fedora. */
  readonly id: string;
  readonly versionId: string;
  readonly prettyName: string;
  /** os-release ID_LIKE (default: the RHEL family's). */
  readonly idLike?: string;
}

const ALMALINUX_9: RpmOsRelease = {
  id: "almalinux",
  versionId: "9.4",
  prettyName: "AlmaLinux 9.4 (Seafoam Ocelot)",
};

export const OPENSUSE_LEAP_15_5: RpmOsRelease = {
  id: "opensuse-leap",
  versionId: "15.5",
  prettyName: "openSUSE Leap 15.5",
  idLike: "suse opensuse",
};

/** `layout:tag` with one layer: a copy of `root` plus /etc/os-release. */
export async function buildRpmImage(
  layout: string,
  tag: string,
  root: string,
  os: RpmOsRelease = ALMALINUX_9,
): Promise<void> {
  const work = makeTempDir("rpm-image");
  try {
    const rootfs = join(work, "rootfs");
    cpSync(root, rootfs, { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    writeFileSync(
      join(rootfs, "etc/os-release"),
      `NAME="${os.prettyName.split(" ")[0]}"\nID="${os.id}"\nID_LIKE="${os.idLike ?? "rhel centos fedora"}"\nVERSION_ID="${os.versionId}"\nPRETTY_NAME="${os.prettyName}"\n`,
    );
    const tar = join(work, "layer.tar");
    await run("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "-C",
      rootfs,
      "-cf",
      tar,
      ".",
    ]);
    const created = "2025-01-01T00:00:00Z";
    await newImageFromTar(layout, tag, tar, created, "ocipatch test harness: dnf --installroot");
    await setConfig(layout, tag, { architecture: "amd64", created, cmd: ["/bin/sh"] });
  } finally {
    await safeRemove(work);
  }
}
