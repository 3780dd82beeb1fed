import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openDebFile } from "../../src/backends/dpkg/deb/index.js";
import { isOcipatchError } from "../../src/errors.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Python's tarfile writes the hostile data.tar; binutils ar wraps it into a .deb.
const MKTAR = `
import sys, tarfile, io, json
spec = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as t:
    for e in spec:
        i = tarfile.TarInfo(e["name"])
        i.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                  "lnk": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[e["type"]]
        i.linkname = e.get("link", "")
        data = e.get("data", "").encode()
        i.size = len(data) if e["type"] == "file" else 0
        t.addfile(i, io.BytesIO(data) if e["type"] == "file" else None)
`;

function makeDeb(name: string, data: Array<Record<string, string>>): string {
  const d = join(dir, name);
  mkdirSync(join(d, "ctl"), { recursive: true });
  writeFileSync(join(d, "debian-binary"), "2.0\n");
  writeFileSync(
    join(d, "ctl", "control"),
    "Package: evil\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: test\n",
  );
  execFileSync("tar", ["-czf", join(d, "control.tar.gz"), "-C", join(d, "ctl"), "./control"]);
  execFileSync("python3", ["-c", MKTAR, join(d, "data.tar.gz"), JSON.stringify(data)]);
  const deb = join(dir, `${name}.deb`);
  execFileSync("ar", ["rcS", deb, "debian-binary", "control.tar.gz", "data.tar.gz"], { cwd: d });
  return deb;
}

async function readAllEntries(deb: string): Promise<string[]> {
  const pkg = await openDebFile(deb);
  const paths: string[] = [];
  for await (const e of pkg.entries()) {
    paths.push(e.header.path);
    for await (const _ of e.content) {
      // consume
    }
  }
  return paths;
}

describe("hostile data.tar entries are refused", () => {
  it("accepts a benign package built the same way (control)", async () => {
    const deb = makeDeb("ok", [
      { name: "./", type: "dir" },
      { name: "./etc/", type: "dir" },
      { name: "./etc/x", type: "file", data: "hi" },
      { name: "./etc/y", type: "lnk", link: "./etc/x" },
      { name: "./etc/z", type: "sym", link: "/etc/x" },
    ]);
    // dpkg-deb agrees the package is well-formed
    execFileSync("dpkg-deb", ["--info", deb]);
    expect(await readAllEntries(deb)).toEqual([".", "etc", "etc/x", "etc/y", "etc/z"]);
  });

  const cases: Array<[string, Array<Record<string, string>>, RegExp]> = [
    ["absolute path", [{ name: "/etc/passwd", type: "file", data: "root" }], /absolute/],
    ["dot-dot traversal", [{ name: "./usr/../../etc/shadow", type: "file", data: "x" }], /\.\./],
    ["character device", [{ name: "./dev/kmem", type: "chr" }], /device/],
    ["block device", [{ name: "./dev/sda", type: "blk" }], /device/],
    ["named pipe", [{ name: "./run/fifo", type: "fifo" }], /pipe/],
    ["hardlink out of the root", [{ name: "./etc/x", type: "lnk", link: "../../etc/shadow" }], /\.\./],
    ["hardlink to an absolute path", [{ name: "./etc/x", type: "lnk", link: "/etc/shadow" }], /absolute/],
  ];
  for (const [label, data, re] of cases) {
    it(label, async () => {
      const deb = makeDeb(label.replace(/\W+/g, "-"), [{ name: "./", type: "dir" }, ...data]);
      const err = await readAllEntries(deb).catch((e) => e);
      expect(isOcipatchError(err, "HOSTILE_LAYER")).toBe(true);
      expect(err.message).toMatch(re);
      expect(err.message).toContain(deb);
    });
  }
});
