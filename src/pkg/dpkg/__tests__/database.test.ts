import { describe, expect, it } from "vitest";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { isStatusDRecordFile, readDpkgInventory, readStatusD } from "../index.js";

async function view(...layers: EntrySpec[][]): Promise<LayeredFs> {
  return new LayeredFs(await Promise.all(layers.map((l) => MemoryLayer.of(l))), "test image");
}

const libc6 =
  "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nMulti-Arch: same\nSource: glibc\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nDescription: GNU C Library: Shared libraries\n";
const baseFiles = "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n";
const netbase =
  "Package: netbase\nVersion: 6.4\nArchitecture: all\n\nPackage: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n";

describe("status.d (distroless)", () => {
  it("reads one or more records per file and ignores *.md5sums", async () => {
    const fs = await view([
      { name: "var/lib/dpkg/status.d/", type: "directory" },
      { name: "var/lib/dpkg/status.d/libc6", content: libc6 },
      {
        name: "var/lib/dpkg/status.d/libc6.md5sums",
        content: "0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\n",
      },
      { name: "var/lib/dpkg/status.d/base", content: baseFiles },
      { name: "var/lib/dpkg/status.d/netbase", content: netbase },
      { name: "var/lib/dpkg/status.d/empty", content: "\n" },
    ]);
    const r = await readStatusD(fs);
    expect(r.packages.map((p) => `${p.name}=${p.version}@${p.dbPath}`)).toEqual([
      "base-files=12.4+deb12u5@/var/lib/dpkg/status.d/base",
      "libc6=2.36-9+deb12u4@/var/lib/dpkg/status.d/libc6",
      "netbase=6.4@/var/lib/dpkg/status.d/netbase",
      "tzdata=2024a-0+deb12u1@/var/lib/dpkg/status.d/netbase",
    ]);
    expect(r.packages[1]).toMatchObject({ sourceName: "glibc", native: { multiArch: "same" } });
    expect(r.warnings).toEqual(["/var/lib/dpkg/status.d/empty: no package record in this status.d file"]);
    expect(isStatusDRecordFile("libc6.md5sums")).toBe(false);
    expect(isStatusDRecordFile("libssl3")).toBe(true);
  });

  it("reads status and status.d together; status wins for the same package", async () => {
    const fs = await view([
      {
        name: "var/lib/dpkg/status",
        content: `Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\n`,
      },
      { name: "var/lib/dpkg/status.d/libc6", content: libc6 },
      { name: "var/lib/dpkg/status.d/base", content: baseFiles },
    ]);
    const r = await readDpkgInventory(fs);
    expect(r?.packages.map((p) => `${p.name}=${p.version}`)).toEqual([
      "libc6=2.36-9",
      "base-files=12.4+deb12u5",
    ]);
    expect(r?.files).toEqual([
      "/var/lib/dpkg/status",
      "/var/lib/dpkg/status.d/base",
      "/var/lib/dpkg/status.d/libc6",
    ]);
  });

  it("sees the status file of the upper layer and whiteouts of status.d files", async () => {
    const fs = await view(
      [
        { name: "var/lib/dpkg/status.d/libc6", content: libc6 },
        { name: "var/lib/dpkg/status.d/base", content: baseFiles },
      ],
      [{ name: "var/lib/dpkg/status.d/.wh.base", content: "" }],
    );
    const r = await readDpkgInventory(fs);
    expect(r?.packages.map((p) => p.name)).toEqual(["libc6"]);
  });

  it("returns undefined without a dpkg database", async () => {
    expect(await readDpkgInventory(await view([{ name: "etc/hostname", content: "x" }]))).toBeUndefined();
  });

  it("a database path of the wrong type is an error, never an empty (clean) database", async () => {
    const cases: Array<[string, EntrySpec[], RegExp]> = [
      [
        "status is a directory",
        [{ name: "var/lib/dpkg/status/", type: "directory" }],
        /\/var\/lib\/dpkg\/status exists but it is a directory, not a regular file/,
      ],
      [
        "status.d is a file",
        [{ name: "var/lib/dpkg/status.d", content: libc6 }],
        /\/var\/lib\/dpkg\/status.d exists but it is a file, not a directory/,
      ],
      [
        "status is a FIFO",
        [{ name: "var/lib/dpkg/status", type: "fifo" }],
        /\/var\/lib\/dpkg\/status exists but it is a fifo/,
      ],
      [
        "status is a dangling symlink",
        [{ name: "var/lib/dpkg/status", type: "symlink", linkname: "/nowhere" }],
        /\/var\/lib\/dpkg\/status exists but it is a symlink to nothing/,
      ],
      [
        "a status.d record file is a FIFO",
        [
          { name: "var/lib/dpkg/status.d/libc6", content: libc6 },
          { name: "var/lib/dpkg/status.d/base", type: "fifo" },
        ],
        /status.d\/base exists but it is a fifo, not a regular file/,
      ],
    ];
    for (const [label, entries, re] of cases) {
      const err = await readDpkgInventory(await view(entries)).catch((e: unknown) => e);
      expect(err, label).toMatchObject({ code: "INVALID_FORMAT", message: expect.stringMatching(re) });
    }
  });
});
