/**
 * An image's dpkg database as hostile input (issue 15): a database path of the wrong type is an
 * error (never "nothing to patch"), and a status database of 150k records (generated here, not
 * committed) is read without a stack overflow and in bounded memory. Real images, the real CLI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ensureBuilt, REPO_ROOT } from "../harness/cli.js";
import { imageWithLayers, type LayerEntry } from "../harness/hostile-image.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { runCli, trackerDb } from "../harness/patch-support.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-hostile-dpkg-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let base: TestImage;
let dbDir: string;
beforeAll(async () => {
  base = await ensureImage("debian-bookworm");
  dbDir = await trackerDb();
}, 600_000);

let n = 0;
function image(entries: LayerEntry[]): string {
  return imageWithLayers(base, join(work, `image-${++n}`), [entries]);
}

const lib = [
  { name: "var/", type: "dir" },
  { name: "var/lib/", type: "dir" },
  { name: "var/lib/dpkg/", type: "dir" },
] as const satisfies LayerEntry[];

describe("a dpkg database that cannot be read is an error", () => {
  for (const [label, entries, re] of [
    [
      "status is a directory",
      [...lib, { name: "var/lib/dpkg/status/", type: "dir" }],
      /\/var\/lib\/dpkg\/status exists but it is a directory, not a regular file/,
    ],
    [
      "status.d is a file (no status)",
      [
        ...lib,
        { name: "var/lib/dpkg/.wh.status", type: "file" },
        { name: "var/lib/dpkg/status.d", type: "file", data: "Package: x\nVersion: 1\n" },
      ],
      /\/var\/lib\/dpkg\/status.d exists but it is a file, not a directory/,
    ],
  ] as Array<[string, LayerEntry[], RegExp]>) {
    it(`${label}: scan and patch fail with one line (never "nothing to patch")`, async () => {
      const ref = image(entries);
      const scan = await runCli(["scan", "-i", ref, "--db-dir", dbDir, "--skip-db-update"]);
      expect(scan.code, scan.stderr).toBe(6);
      expect(scan.stderr).toMatch(re);
      const patch = await runCli(["patch", "-i", ref, "--dry-run", "--db-dir", dbDir, "--skip-db-update"]);
      expect(patch.code, patch.stderr).toBe(6);
      expect(patch.stderr).toMatch(re);
      expect(`${patch.stdout}${patch.stderr}`).not.toMatch(/nothing to patch/i);
      expect(patch.stderr.split("\n").filter((l) => l.startsWith("[error]"))).toHaveLength(1);
    }, 300_000);
  }
});

const GEN = `
import sys
base, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "w") as f:
    f.write(open(base).read().rstrip("\\n") + "\\n\\n")
    for i in range(n):
        f.write("Package: synthetic-%d\\nStatus: install ok installed\\nPriority: optional\\nSection: misc\\n"
                "Installed-Size: 12\\nMaintainer: Test <t@example.org>\\nArchitecture: amd64\\n"
                "Source: synthetic-src-%d\\nVersion: 1.0-%d\\nDepends: libc6 (>= 2.36)\\n"
                "Description: synthetic package %d\\n\\n" % (i, i % 5000, i, i))
`;

describe("a large status database", () => {
  it("150k records: scanned without a stack overflow, every package listed, bounded memory", async () => {
    await ensureBuilt();
    const real = join(work, "status.base");
    // the image's own status, so the OS packages stay as they are
    const top = execFileSync("skopeo", ["inspect", "--raw", `oci:${base.layoutDir}:${base.tag}`]);
    const layers = (JSON.parse(top.toString()) as { layers: Array<{ digest: string }> }).layers;
    let found = false;
    for (const l of layers.reverse()) {
      const blob = join(base.layoutDir, "blobs", "sha256", l.digest.split(":")[1]!);
      try {
        writeFileSync(
          real,
          execFileSync("tar", ["-xOf", blob, "var/lib/dpkg/status"], { maxBuffer: 1 << 26 }),
        );
        found = true;
        break;
      } catch {
        // not in this layer
      }
    }
    expect(found).toBe(true);
    const big = join(work, "status.big");
    execFileSync("python3", ["-c", GEN, real, "150000", big]);
    const ref = image([...lib, { name: "var/lib/dpkg/status", type: "file", source: big }]);
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "maxrss=%M",
        process.execPath,
        BIN,
        "scan",
        "-i",
        ref,
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--format",
        "json",
      ],
      { cwd: REPO_ROOT, maxBuffer: 1 << 28, encoding: "utf8" },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/call stack/);
    const doc = JSON.parse(r.stdout) as { packages: number };
    expect(doc.packages).toBeGreaterThan(150_000);
    // 40 MB of records: ~500 MB peak measured (before: a stack overflow); allow headroom, not gigabytes
    const rssKb = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]);
    expect(rssKb).toBeLessThan(900 * 1024);
  }, 600_000);
});
