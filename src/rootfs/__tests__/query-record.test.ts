import { describe, expect, it } from "vitest";
import { LayeredFs } from "../layered-fs.js";
import { type EntrySpec, MemoryLayer } from "./synthetic.js";

const file = (name: string): EntrySpec => ({ name, content: `content of ${name}\n` });
const link = (name: string, linkname: string): EntrySpec => ({ name, type: "symlink", linkname });

const base: EntrySpec[] = [
  file("etc/ssl/openssl.cnf"),
  file("var/lib/dpkg/status"),
  file("var/lib/dpkg/info/a.list"),
  { name: "usr/lib/", type: "directory" },
  link("lib", "usr/lib"),
  file("usr/lib/libx.so"),
];

/** The base, then one top layer; queries recorded on the base alone. */
async function recorded(query: (fs: LayeredFs) => Promise<unknown>) {
  const fs = new LayeredFs([await MemoryLayer.of(base, "gzip")], "base");
  const rec = fs.recordQueries();
  await query(fs);
  fs.stopRecording(rec);
  await fs.close();
  return rec;
}

/** Would a top layer of these entries change the recorded queries? */
async function affects(top: EntrySpec[], query: (fs: LayeredFs) => Promise<unknown>) {
  const rec = await recorded(query);
  const fs = new LayeredFs([await MemoryLayer.of(base, "gzip"), await MemoryLayer.of(top, "gzip")], "two");
  try {
    return await fs.layerAffects(1, rec);
  } finally {
    await fs.close();
  }
}

describe("LayeredFs query records", () => {
  it("record every component of a resolution, through symlinks, and listed directories", async () => {
    const rec = await recorded(async (fs) => {
      await fs.readFile("/lib/libx.so");
      await fs.readdir("/var/lib/dpkg/info");
      await fs.lstat("/etc/missing");
    });
    expect([...rec.lookups]).toEqual(
      expect.arrayContaining([
        "lib",
        "usr",
        "usr/lib",
        "usr/lib/libx.so",
        "var/lib/dpkg/info",
        "etc/missing",
      ]),
    );
    expect([...rec.listings]).toEqual(["var/lib/dpkg/info"]);
  });

  it("a layer affects the queries when it has something at, above or in a listed directory of a read path", async () => {
    const q = async (fs: LayeredFs) => {
      await fs.readFile("/lib/libx.so");
      await fs.readdir("/var/lib/dpkg/info");
      await fs.readTextIfExists("/etc/missing");
    };
    // unrelated paths: no
    expect(await affects([file("srv/app/data"), file("etc/other.conf"), file("usr/share/x")], q)).toBe(false);
    // the file itself, through the real path of the symlink
    expect(await affects([file("usr/lib/libx.so")], q)).toBe(true);
    // the symlink replaced
    expect(await affects([link("lib", "opt/lib")], q)).toBe(true);
    // a file that did not exist when it was looked for
    expect(await affects([file("etc/missing")], q)).toBe(true);
    // a new name in a listed directory, or a whiteout there
    expect(await affects([file("var/lib/dpkg/info/b.list")], q)).toBe(true);
    expect(await affects([{ name: "var/lib/dpkg/info/.wh.a.list" }], q)).toBe(true);
    // a parent hidden or made opaque
    expect(await affects([{ name: "usr/.wh.lib" }], q)).toBe(true);
    expect(await affects([{ name: "usr/lib/.wh..wh..opq" }], q)).toBe(true);
  });

  it("a layer whose implied directory answered a recorded lookup affects it (taken away, the path is gone)", async () => {
    const fs = new LayeredFs(
      [await MemoryLayer.of(base, "gzip"), await MemoryLayer.of([file("srv/app/data")], "gzip")],
      "two",
    );
    try {
      const rec = fs.recordQueries();
      expect((await fs.stat("/srv"))?.type).toBe("directory");
      fs.stopRecording(rec);
      expect(await fs.layerAffects(1, rec)).toBe(true);
      expect(await fs.layerAffects(0, rec)).toBe(false);
    } finally {
      await fs.close();
    }
  });
});
