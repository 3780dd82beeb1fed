/**
 * A distroless-style rootfs like gcr.io/distroless/cc-debian12: the packages' files unpacked
 * (dpkg-deb, never dpkg --install: no maintainer scripts, no dpkg/apt binaries, no
 * /var/lib/dpkg/status, no apt sources), one /var/lib/dpkg/status.d/<pkg> control file plus
 * <pkg>.md5sums per package, merged-/usr symlinks, passwd/group with nonroot (65532), /tmp 1777,
 * and a CA bundle concatenated from ca-certificates' certs.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError, log, output, run } from "../exec.js";

/** Merged-/usr symlinks of distroless's usrmerge.tar. */
const USRMERGE = ["bin", "sbin", "lib", "lib64"];

/** Control fields of a .deb as a status.d paragraph (Status after Package, as in dpkg's status). */
function statusParagraph(control: string): string {
  const lines = control.replace(/\n+$/, "").split("\n");
  const out: string[] = [];
  for (const l of lines) {
    out.push(l);
    if (/^Package:/.test(l)) out.push("Status: install ok installed");
  }
  return `${out.join("\n")}\n`;
}

interface DistrolessResult {
  /** package name → version, from the written status.d */
  readonly packages: Record<string, string>;
}

/** Unpacks debs into rootfs and writes status.d. */
export async function buildDistrolessRootfs(
  rootfs: string,
  debs: readonly string[],
): Promise<DistrolessResult> {
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(join(rootfs, "usr"), { recursive: true });
  for (const d of USRMERGE) {
    mkdirSync(join(rootfs, "usr", d), { recursive: true });
    symlinkSync(`usr/${d}`, join(rootfs, d));
  }
  const statusD = join(rootfs, "var/lib/dpkg/status.d");
  mkdirSync(statusD, { recursive: true });
  const packages: Record<string, string> = {};
  for (const deb of debs) {
    const control = await output("dpkg-deb", ["--field", deb]);
    const name = /^Package:\s*(\S+)/m.exec(control)?.[1];
    const version = /^Version:\s*(\S+)/m.exec(control)?.[1];
    if (!name || !version) throw new HarnessError(`${deb}: no Package/Version in its control file`);
    // --keep-directory-symlink: /lib etc. stay symlinks into /usr (dpkg-deb -x would replace them).
    await run("bash", [
      "-c",
      'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x --keep-directory-symlink -C "$2"',
      "bash",
      deb,
      rootfs,
    ]);
    writeFileSync(join(statusD, name), statusParagraph(control));
    const md5 = await run(
      "bash",
      ["-c", 'set -o pipefail; dpkg-deb --ctrl-tarfile "$1" | tar -xO ./md5sums', "bash", deb],
      { okCodes: [0, 2] },
    );
    if (md5.code === 0 && md5.stdout) writeFileSync(join(statusD, `${name}.md5sums`), md5.stdout);
    packages[name] = version;
  }
  for (const d of USRMERGE) {
    // a package must not have replaced a usrmerge symlink with a directory
    await run("test", ["-L", join(rootfs, d)]).catch(() => {
      throw new HarnessError(`distroless rootfs: /${d} is no longer a symlink after unpacking`);
    });
  }
  writeFileSync(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
  );
  writeFileSync(
    join(rootfs, "etc/group"),
    "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
  );
  writeFileSync(
    join(rootfs, "etc/nsswitch.conf"),
    "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\nethers: files\nrpc: files\n",
  );
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  chmodSync(join(rootfs, "tmp"), 0o1777);
  mkdirSync(join(rootfs, "home/nonroot"), { recursive: true });
  await run("chown", ["65532:65532", join(rootfs, "home/nonroot")]);
  mkdirSync(join(rootfs, "root"), { recursive: true, mode: 0o700 });
  // ca-certificates ships the certs; the bundle is normally made by update-ca-certificates (a script
  // that is never run here), so concatenate them as distroless's cacerts rule does.
  const certDir = join(rootfs, "usr/share/ca-certificates/mozilla");
  try {
    const certs = readdirSync(certDir)
      .filter((f) => f.endsWith(".crt"))
      .sort();
    mkdirSync(join(rootfs, "etc/ssl/certs"), { recursive: true });
    writeFileSync(
      join(rootfs, "etc/ssl/certs/ca-certificates.crt"),
      certs.map((c) => readFileSync(join(certDir, c), "utf8")).join(""),
    );
  } catch {
    log("distroless: no ca-certificates certs to bundle");
  }
  return { packages };
}
