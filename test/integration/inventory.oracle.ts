/**
 * Independent oracles for the inventory tests: umoci unpacks the image (its own
 * implementation of layers and whiteouts) and dpkg-query reads the unpacked
 * database; the shell reads os-release.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Unpacked {
  readonly rootfs: string;
  cleanup(): void;
}

export function unpackWithUmoci(layoutDir: string, tag: string): Unpacked {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-oracle-"));
  const bundle = join(dir, "bundle");
  execFileSync("umoci", ["unpack", "--image", `${layoutDir}:${tag}`, bundle], { stdio: "ignore" });
  return { rootfs: join(bundle, "rootfs"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

interface DpkgRow {
  readonly name: string;
  readonly arch: string;
  readonly version: string;
  readonly sourceName: string;
  readonly sourceVersion: string;
  readonly status: string;
}

/**
 * `dpkg-query -W` on the unpacked database. For distroless images (status.d, no
 * status file) dpkg is pointed at a scratch admindir whose status file is the
 * concatenation of the status.d records (Status added where missing).
 */
export function dpkgQuery(rootfs: string): DpkgRow[] {
  let admindir = join(rootfs, "var/lib/dpkg");
  let scratch: string | undefined;
  if (!existsSync(join(admindir, "status"))) {
    const sd = join(admindir, "status.d");
    scratch = mkdtempSync(join(tmpdir(), "ocipatch-admindir-"));
    const records = readdirSync(sd)
      .filter((f) => !f.endsWith(".md5sums"))
      .sort()
      .flatMap((f) => readFileSync(join(sd, f), "utf8").split(/\n\s*\n/))
      .filter((r) => r.trim() !== "")
      .map((r) => (/^Status:/m.test(r) ? r.trim() : `${r.trim()}\nStatus: install ok installed`));
    writeFileSync(join(scratch, "status"), `${records.join("\n\n")}\n`);
    admindir = scratch;
  }
  try {
    const out = execFileSync(
      "dpkg-query",
      [
        `--admindir=${admindir}`,
        "-W",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
        "-f=${Package}\\t${Architecture}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 64 * 1024 * 1024 },
    );
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const [name, arch, version, sourceName, sourceVersion, status] = l.split("\t") as [
          string,
          string,
          string,
          string,
          string,
          string,
        ];
        return { name, arch, version, sourceName, sourceVersion, status: status.trim() };
      });
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

/** ID, VERSION_ID and VERSION_CODENAME as the shell sees them. */
export function shellOsRelease(rootfs: string): { id: string; versionId: string; codename: string } {
  const file = [join(rootfs, "etc/os-release"), join(rootfs, "usr/lib/os-release")].find((f) =>
    existsSync(f),
  );
  if (!file) return { id: "", versionId: "", codename: "" };
  const out = execFileSync(
    "sh",
    ["-c", '. "$1"; printf "%s|%s|%s" "$ID" "$VERSION_ID" "$VERSION_CODENAME"', "sh", file],
    {
      encoding: "utf8",
    },
  );
  const [id, versionId, codename] = out.split("|") as [string, string, string];
  return { id, versionId, codename };
}
