/**
 * Paths named by image content are resolved inside the image only (issue 15, HIGH): an image's
 * apt source `signed-by=/some/path` never makes ocipatch read the host's /some/path. Host files
 * (`--keyring`) are read only as bounded regular files: a FIFO or /dev/zero is one error line, promptly.
 * Real images (the harness's distroless-bookworm plus a layer written here), the real CLI, the real mirror.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageWithLayers, type LayerEntry } from "../harness/hostile-image.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { runCli, trackerDb } from "../harness/patch-support.js";

const HOST_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const work = mkdtempSync(join(tmpdir(), "ocipatch-hostile-paths-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let base: TestImage;
let dbDir: string;
beforeAll(async () => {
  base = await ensureImage("distroless-bookworm");
  dbDir = await trackerDb();
}, 600_000);

let n = 0;
/** distroless-bookworm (no keyrings, no sources) plus sources naming `signedBy`, plus `extra` entries. */
function imageWithSources(signedBy: string, extra: LayerEntry[] = []): string {
  const dest = join(work, `image-${++n}`);
  const sources = `deb [signed-by=${signedBy}] http://deb.debian.org/debian bookworm main\n`;
  return imageWithLayers(base, dest, [
    [
      { name: "etc/", type: "dir" },
      { name: "etc/apt/", type: "dir" },
      { name: "etc/apt/sources.list", type: "file", data: sources },
      ...extra,
    ],
  ]);
}

async function dryRun(ref: string, more: string[] = []) {
  const started = Date.now();
  const r = await runCli([
    "patch",
    "-i",
    ref,
    "--all",
    "--dry-run",
    "--db-dir",
    dbDir,
    "--skip-db-update",
    ...more,
  ]);
  return { ...r, seconds: (Date.now() - started) / 1000 };
}

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /error/i.test(l));
}

describe("Signed-By paths of an image are resolved inside the image", () => {
  it("a host keyring the image names by its host path is NOT used (the path is looked up in the image)", async () => {
    // A valid keyring on the host at a unique path: if ocipatch read the host's file, the
    // repository would verify and the dry run would succeed.
    const marker = join(work, `marker-${process.pid}.gpg`);
    copyFileSync(HOST_KEYRING, marker);
    const r = await dryRun(imageWithSources(marker));
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`keyring ${marker} is missing in the image`);
    expect(errorLines(r.stderr)).toHaveLength(1);
  }, 300_000);

  it("signed-by=/dev/zero (absent in the image): one line, promptly, nothing read from the host", async () => {
    const r = await dryRun(imageWithSources("/dev/zero"));
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain("keyring /dev/zero is missing in the image");
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.seconds).toBeLessThan(120);
  }, 300_000);

  it("signed-by naming a host FIFO: never opened, one line", async () => {
    const fifo = join(work, "host-fifo");
    execFileSync("mkfifo", [fifo]);
    const r = await dryRun(imageWithSources(fifo));
    expect(r.code, r.stderr).toBe(6);
    expect(r.stderr).toContain(`keyring ${fifo} is missing in the image`);
    expect(errorLines(r.stderr)).toHaveLength(1);
  }, 300_000);

  it("signed-by naming a FIFO or a device inside the image: refused as not a regular file", async () => {
    const fifo = await dryRun(
      imageWithSources("/etc/apt/keyrings/pipe.gpg", [
        { name: "etc/apt/keyrings/", type: "dir" },
        { name: "etc/apt/keyrings/pipe.gpg", type: "fifo" },
      ]),
    );
    expect(fifo.code, fifo.stderr).toBe(6);
    expect(fifo.stderr).toMatch(
      /keyring \/etc\/apt\/keyrings\/pipe\.gpg in the image is a fifo, not a regular file/,
    );
    expect(errorLines(fifo.stderr)).toHaveLength(1);

    // an in-image symlink to /etc/shadow stays inside the image: the image's own (absent) file
    const link = await dryRun(
      imageWithSources("/etc/apt/keyrings/link.gpg", [
        { name: "etc/apt/keyrings/", type: "dir" },
        { name: "etc/apt/keyrings/link.gpg", type: "symlink", link: "/etc/shadow-not-in-image" },
      ]),
    );
    expect(link.code, link.stderr).toBe(6);
    expect(link.stderr).toContain("keyring /etc/apt/keyrings/link.gpg is missing in the image");
  }, 300_000);

  it("a default keyring path the image names but lacks still uses the host's copy of that default keyring", async () => {
    const r = await dryRun(imageWithSources(HOST_KEYRING));
    expect(r.code, r.stderr).toBe(0);
  }, 300_000);
});

describe("host files are read only as bounded regular files", () => {
  it("--keyring naming a FIFO or /dev/zero: one line, promptly", async () => {
    const fifo = join(work, "keyring-fifo");
    execFileSync("mkfifo", [fifo]);
    const ref = imageWithSources(HOST_KEYRING);
    for (const [path, re] of [
      [fifo, /keyring .*keyring-fifo is a FIFO, not a regular file/],
      ["/dev/zero", /keyring \/dev\/zero is a character device, not a regular file/],
    ] as const) {
      const r = await dryRun(ref, ["--keyring", path]);
      expect(r.code, r.stderr).toBe(10);
      expect(r.stderr).toMatch(re);
      expect(errorLines(r.stderr)).toHaveLength(1);
      expect(r.seconds).toBeLessThan(120);
    }
  }, 300_000);
});
