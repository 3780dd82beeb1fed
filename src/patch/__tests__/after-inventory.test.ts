import { describe, expect, it } from "vitest";
import type { InstalledPackage, Inventory } from "../../inventory/types.js";
import { UNKNOWN_OS } from "../../os/detect.js";
import { inventoryAfterLayer, layerTouches } from "../after-inventory.js";

const pkg = (name: string, version: string, architecture = "amd64"): InstalledPackage => ({
  name,
  version,
  architecture,
  sourceName: name,
  sourceVersion: version,
  held: false,
  dbPath: "/var/lib/dpkg/status",
  native: undefined,
});

const inventory = (distroless = false): Inventory => ({
  os: { ...UNKNOWN_OS, id: "debian", family: "debian", versionId: "11", source: "/etc/os-release" },
  packageManager: "dpkg",
  distroless,
  packages: [pkg("a", "1"), pkg("b", "1"), pkg("b", "1", "i386"), pkg("c", "1")],
  warnings: ["w"],
});

const layer = (installed: InstalledPackage[], paths: string[] = ["var/lib/dpkg/status"]) => ({
  installed,
  paths: new Set(paths),
});

describe("inventoryAfterLayer", () => {
  it("replaces the records the layer wrote in place and appends new packages", async () => {
    const after = await inventoryAfterLayer(
      inventory(),
      layer([pkg("d", "1"), pkg("b", "2"), pkg("a", "1")]),
    );
    expect(after?.packages.map((p) => `${p.name}:${p.architecture}=${p.version}`)).toEqual([
      "a:amd64=1",
      "b:amd64=2",
      "b:i386=1",
      "c:amd64=1",
      "d:amd64=1",
    ]);
    expect(after?.os.versionId).toBe("11");
    expect(after?.warnings).toEqual(["w"]);
  });

  it("leaves out the packages the layer erased (by name and architecture), unless it also wrote them", async () => {
    const after = await inventoryAfterLayer(inventory(), {
      ...layer([pkg("d", "1"), pkg("c", "2")]),
      erased: [
        { name: "b", architecture: "i386" },
        { name: "c", architecture: "amd64" },
      ],
    });
    expect(after?.packages.map((p) => `${p.name}:${p.architecture}=${p.version}`)).toEqual([
      "a:amd64=1",
      "b:amd64=1",
      "c:amd64=2",
      "d:amd64=1",
    ]);
  });

  it("gives up (the image is read instead) when the layer writes or whites out an OS release file", async () => {
    for (const paths of [
      ["usr/lib/os-release"],
      ["etc/.wh.os-release"],
      ["etc/.wh..wh..opq"],
      [".wh.etc"],
      ["etc/debian_version"],
    ]) {
      expect(await inventoryAfterLayer(inventory(), layer([pkg("b", "2")], paths)), paths[0]).toBeUndefined();
    }
    expect(
      await inventoryAfterLayer(inventory(), layer([pkg("b", "2")], ["usr/lib/os-release.d/x"])),
    ).toBeDefined();
  });

  it("identifies the OS from the files as the layer leaves them, when it writes one and says what they are", async () => {
    const osRelease = 'ID=debian\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\n';
    const after = await inventoryAfterLayer(inventory(), {
      ...layer([pkg("base-files", "11.1+deb11u9")], ["var/lib/dpkg/status", "usr/lib/os-release"]),
      osFiles: new Map([
        ["/usr/lib/os-release", osRelease],
        ["/etc/os-release", osRelease],
        ["/etc/debian_version", "11.9\n"],
      ]),
    });
    expect(after?.os).toMatchObject({ id: "debian", versionId: "11", codename: "bullseye" });
    expect(after?.packages.map((p) => p.name)).toEqual(["a", "b", "b", "c", "base-files"]);
    // no OS file left: the OS is unknown, as a read of the image would find it
    const none = await inventoryAfterLayer(inventory(), {
      ...layer([pkg("b", "2")], ["etc/.wh.os-release"]),
      osFiles: new Map(),
    });
    expect(none?.os.id).toBe("unknown");
  });

  it("gives up when the backend does not say which records it wrote", async () => {
    expect(
      await inventoryAfterLayer(inventory(), { paths: new Set(["var/lib/dpkg/status"]) }),
    ).toBeUndefined();
  });

  it("gives up when a distroless image gets a package manager program", async () => {
    expect(
      await inventoryAfterLayer(inventory(true), layer([pkg("dpkg", "2")], ["usr/bin/dpkg"])),
    ).toBeUndefined();
    // not distroless: dpkg's own upgrade changes nothing the inventory derives
    expect(
      await inventoryAfterLayer(inventory(false), layer([pkg("dpkg", "2")], ["usr/bin/dpkg"])),
    ).toBeDefined();
  });

  it("layerTouches: the path itself, its whiteout, or a parent's whiteout or opaque marker", async () => {
    const t = (paths: string[]) => layerTouches(new Set(paths), "/etc/ssl/x");
    expect(t(["etc/ssl/x"])).toBe(true);
    expect(t(["etc/ssl/.wh.x"])).toBe(true);
    expect(t(["etc/.wh.ssl"])).toBe(true);
    expect(t(["etc/ssl/.wh..wh..opq"])).toBe(true);
    expect(t(["etc/ssl/y", "etc/ssl/x/z", "etc/.wh.sslx"])).toBe(false);
  });
});
