import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import { type EntrySpec, MemoryLayer } from "../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../rootfs/index.js";
import { readInventoryFromFs } from "../index.js";

async function view(...layers: EntrySpec[][]): Promise<LayeredFs> {
  return new LayeredFs(await Promise.all(layers.map((l) => MemoryLayer.of(l))), "test image");
}

const alpine: EntrySpec[] = [
  { name: "etc/os-release", content: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n' },
  { name: "lib/apk/db/installed", content: "C:Q1...\nP:musl\nV:1.2.4_git20230717-r4\n\n" },
  { name: "sbin/apk", content: "ELF", mode: 0o755 },
];

describe("readInventoryFromFs", () => {
  it("reads apk databases through the apk backend", async () => {
    const inv = await readInventoryFromFs(await view(alpine));
    expect(inv).toMatchObject({ packageManager: "apk", distroless: false });
    expect(inv.packages.map((p) => `${p.name} ${p.version}`)).toEqual(["musl 1.2.4_git20230717-r4"]);
    expect(inv.os).toMatchObject({ id: "alpine", family: "alpine" });
    expect(inv.warnings).toEqual([]);
  });

  it("refuses databases without a backend (RPM) clearly, or warns on request", async () => {
    const fedora: EntrySpec[] = [
      { name: "etc/os-release", content: 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n' },
      { name: "var/lib/rpm/rpmdb.sqlite", content: "SQLite format 3\0" },
      { name: "usr/bin/rpm", content: "ELF", mode: 0o755 },
    ];
    const err = await readInventoryFromFs(await view(fedora)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("UNSUPPORTED");
    expect((err as OcipatchError).message).toBe(
      "test image: RPM package databases are not supported yet (found /var/lib/rpm/rpmdb.sqlite; OS fedora 40)",
    );
    const inv = await readInventoryFromFs(await view(fedora), { unsupported: "warn" });
    expect(inv).toMatchObject({ packageManager: "rpm", distroless: false, packages: [] });
    expect(inv.warnings).toHaveLength(1);
  });

  it("reads dpkg packages of an unidentified OS with a warning", async () => {
    const inv = await readInventoryFromFs(
      await view([
        {
          name: "var/lib/dpkg/status",
          content: "Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n",
        },
      ]),
    );
    expect(inv.packages.map((p) => p.name)).toEqual(["a"]);
    expect(inv.warnings).toEqual([
      "test image: cannot identify the OS (no /etc/os-release, /usr/lib/os-release or release file)",
    ]);
    expect(inv.distroless).toBe(true);
  });

  it("warns about an unsupported distribution and an empty database", async () => {
    const inv = await readInventoryFromFs(
      await view([
        { name: "etc/os-release", content: "ID=gentoo\nVERSION_ID=2.14\n" },
        { name: "var/lib/dpkg/status", content: "Package: gone\nStatus: purge ok not-installed\n" },
        { name: "usr/bin/dpkg", content: "ELF" },
      ]),
    );
    expect(inv.warnings).toEqual([
      'test image: unsupported OS "gentoo" 2.14',
      "test image: the dpkg database lists no installed package",
    ]);
    expect(inv).toMatchObject({ packageManager: "dpkg", distroless: false, packages: [] });
  });
});
