import { describe, expect, it } from "vitest";
import { NdbWriter } from "../../../test/harness/rpm/ndb.js";
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

  it("refuses a database format its backend cannot read (LZO-compressed NDB blobs) clearly, or warns on request", async () => {
    // an NDB Packages.db whose one blob is compressed as an rpm built with RPMPKG_LZO stores it
    const db = new NdbWriter();
    db.put(Buffer.concat([Buffer.from("LZOB"), Buffer.from([16, 0, 0, 0]), Buffer.alloc(16)]));
    const ndb: EntrySpec[] = [
      { name: "etc/os-release", content: 'NAME="openSUSE Leap"\nID="opensuse-leap"\nVERSION_ID="15.5"\n' },
      { name: "usr/lib/sysimage/rpm/Packages.db", content: db.bytes() },
      { name: "usr/bin/rpm", content: "ELF", mode: 0o755 },
    ];
    const err = await readInventoryFromFs(await view(ndb)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OcipatchError);
    expect((err as OcipatchError).code).toBe("UNSUPPORTED");
    expect((err as OcipatchError).message).toBe(
      "test image: /usr/lib/sysimage/rpm/Packages.db: package 1: LZO-compressed NDB blobs (rpm built with RPMPKG_LZO) are not supported",
    );
    const inv = await readInventoryFromFs(await view(ndb), { unsupported: "warn" });
    expect(inv).toMatchObject({ packageManager: "rpm", distroless: false, packages: [] });
    expect(inv.warnings).toEqual([(err as OcipatchError).message]);
  });

  it("does not turn other errors of a backend into warnings", async () => {
    const broken: EntrySpec[] = [
      { name: "etc/os-release", content: "ID=almalinux\nVERSION_ID=9.4\n" },
      { name: "var/lib/rpm/Packages", content: "not a berkeley db" },
    ];
    await expect(readInventoryFromFs(await view(broken), { unsupported: "warn" })).rejects.toMatchObject({
      code: "INVALID_FORMAT",
      message: "test image: /var/lib/rpm/Packages: not a Berkeley DB hash database",
    });
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
