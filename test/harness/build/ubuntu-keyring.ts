/**
 * Ubuntu's archive keyring for mmdebstrap: not in bookworm, so it comes from the `ubuntu-keyring`
 * package of Debian TRIXIE, fetched by apt from the host's Debian mirror (InRelease verified with the
 * host's debian-archive-keyring, the .deb against the signed Packages index), and cached.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError, log, output, run } from "../exec.js";
import { cacheRoot, withTempDir } from "../fs.js";
import { withLock } from "../lock.js";
import { mirrors } from "../mirrors.js";
import { hostArch } from "./binfmt.js";
import { hostApt } from "./host-apt.js";

export const DEBIAN_ARCHIVE_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";

/** Path of the cached ubuntu-archive-keyring.gpg (fetched on first use). */
export async function ensureUbuntuKeyring(): Promise<string> {
  const dir = join(cacheRoot(), "keyrings");
  const file = join(dir, "ubuntu-archive-keyring.gpg");
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  await withLock(join(dir, "ubuntu-keyring.lock"), async () => {
    if (existsSync(file)) return;
    const m = mirrors();
    log(`fetching ubuntu-keyring from ${m.debian} trixie`);
    await withTempDir("ubuntu-keyring", async (tmp) => {
      const apt = hostApt(
        join(tmp, "apt"),
        `deb [signed-by=${DEBIAN_ARCHIVE_KEYRING}] ${m.debian} trixie main\n`,
        await hostArch(),
      );
      await apt.update();
      const [deb] = await apt.download(["ubuntu-keyring"], join(tmp, "debs"));
      if (!deb) throw new HarnessError("apt-get download ubuntu-keyring produced no .deb");
      await run("dpkg-deb", ["-x", deb, join(tmp, "x")]);
      const key = join(tmp, "x/usr/share/keyrings/ubuntu-archive-keyring.gpg");
      if (!existsSync(key))
        throw new HarnessError(`${deb} has no usr/share/keyrings/ubuntu-archive-keyring.gpg`);
      copyFileSync(key, `${file}.tmp`);
      writeFileSync(
        join(dir, "ubuntu-archive-keyring.source"),
        `${await output("dpkg-deb", ["-f", deb, "Package", "Version"])}\nfrom ${m.debian} trixie\n`,
      );
      renameSync(`${file}.tmp`, file);
    });
  });
  return file;
}
