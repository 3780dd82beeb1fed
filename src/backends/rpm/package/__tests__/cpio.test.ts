import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../../../errors.js";
import type { RpmFile } from "../../header.js";
import { type CpioEntry, normaliseCpioPath, readCpio } from "../cpio.js";

/**
 * Synthetic newc archives for the hostile cases; real payloads (rpmbuild with gzip, xz and zstd,
 * hard links, symlinks) are read against rpm2cpio and rpm in test/integration/rpm.package.test.ts.
 */
interface Member {
  name: string;
  mode?: number;
  ino?: number;
  nlink?: number;
  data?: string;
  magic?: string;
}

function newc(members: Member[], trailer = true): Buffer {
  const out: Buffer[] = [];
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const all = trailer ? [...members, { name: "TRAILER!!!", mode: 0, nlink: 1 }] : members;
  all.forEach((m, i) => {
    const data = Buffer.from(m.data ?? "");
    const name = Buffer.from(`${m.name}\0`);
    const fields = [
      m.ino ?? i + 1,
      m.mode ?? 0o100644,
      0,
      0,
      m.nlink ?? 1,
      1700000000,
      data.length,
      0,
      0,
      0,
      0,
      name.length,
      0,
    ];
    const head = Buffer.concat([
      Buffer.from((m.magic ?? "070701") + fields.map(hex).join(""), "latin1"),
      name,
    ]);
    out.push(
      head,
      Buffer.alloc((4 - (head.length % 4)) % 4),
      data,
      Buffer.alloc((4 - (data.length % 4)) % 4),
    );
  });
  return Buffer.concat(out);
}

function header(...paths: string[]): { files: RpmFile[] } {
  return {
    files: paths.map((path) => ({
      path,
      mode: 0,
      flags: 0,
      digest: "",
      size: 0,
      linkTo: "",
      user: "root",
      group: "wheel",
    })),
  };
}

/** Every entry with its body read (or left unread when `skip`). */
async function read(
  archive: Buffer,
  paths: string[],
  skip = false,
): Promise<Array<Pick<CpioEntry, "path" | "type" | "linkTarget" | "user" | "group"> & { data: string }>> {
  const out = [];
  for await (const e of readCpio(Readable.from([archive]), header(...paths), "test.rpm")) {
    const chunks: Buffer[] = [];
    if (!skip) for await (const c of e.body()) chunks.push(c);
    out.push({
      path: e.path,
      type: e.type,
      linkTarget: e.linkTarget,
      user: e.user,
      group: e.group,
      data: Buffer.concat(chunks).toString(),
    });
  }
  return out;
}

async function failure(p: Promise<unknown>): Promise<OcipatchError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OcipatchError);
  expect((e as Error).message).not.toContain("\n");
  return e as OcipatchError;
}

describe("normaliseCpioPath", () => {
  it("makes rpm's ./ names absolute and drops empty and . components", () => {
    expect(normaliseCpioPath("./usr/bin/x", "t")).toBe("/usr/bin/x");
    expect(normaliseCpioPath("usr//bin/./x/", "t")).toBe("/usr/bin/x");
    expect(normaliseCpioPath("/etc/passwd", "t")).toBe("/etc/passwd");
    expect(normaliseCpioPath("./", "t")).toBe("/");
    expect(normaliseCpioPath(".", "t")).toBe("/");
  });

  it("refuses every name with a .. component, and the empty name", () => {
    for (const n of ["../etc/passwd", "./a/../../b", "/../x", "./usr/..", "..", "./..", ""])
      expect(() => normaliseCpioPath(n, "t"), n).toThrow(/invalid cpio payload/);
  });

  it("never returns a path outside / or with . and .. components (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a", "..", ".", "", "b c", "ü"), { maxLength: 8 }), (parts) => {
        let p: string;
        try {
          p = normaliseCpioPath(parts.join("/"), "t");
        } catch (e) {
          expect((e as OcipatchError).code).toBe("INVALID_FORMAT");
          return;
        }
        expect(p.startsWith("/")).toBe(true);
        expect(p.split("/").slice(1)).not.toContain("..");
        expect(p.split("/").slice(1)).not.toContain(".");
        if (p !== "/") expect(p.split("/").slice(1)).not.toContain("");
      }),
    );
  });
});

describe("readCpio", () => {
  it("reads files, directories and symlinks with owners from the header, skipping unread bodies", async () => {
    const a = newc([
      { name: "./usr", mode: 0o40755 },
      { name: "./usr/a", data: "hello" },
      { name: "./usr/l", mode: 0o120777, data: "a" },
      { name: "./usr/b", data: "0123456789" },
    ]);
    const paths = ["/usr", "/usr/a", "/usr/l", "/usr/b"];
    expect(await read(a, paths)).toEqual([
      { path: "/usr", type: "directory", linkTarget: "", user: "root", group: "wheel", data: "" },
      { path: "/usr/a", type: "file", linkTarget: "", user: "root", group: "wheel", data: "hello" },
      { path: "/usr/l", type: "symlink", linkTarget: "a", user: "root", group: "wheel", data: "" },
      { path: "/usr/b", type: "file", linkTarget: "", user: "root", group: "wheel", data: "0123456789" },
    ]);
    expect((await read(a, paths, true)).map((e) => e.path)).toEqual(paths);
  });

  it("orders a hard-link set as data member first, then links to it", async () => {
    const a = newc([
      { name: "./x", ino: 7, nlink: 3 },
      { name: "./y", ino: 7, nlink: 3 },
      { name: "./z", ino: 7, nlink: 3, data: "shared" },
    ]);
    expect((await read(a, ["/x", "/y", "/z"])).map((e) => [e.path, e.type, e.linkTarget, e.data])).toEqual([
      ["/z", "file", "", "shared"],
      ["/x", "hardlink", "/z", ""],
      ["/y", "hardlink", "/z", ""],
    ]);
  });

  it("refuses hostile and broken archives with one INVALID_FORMAT line", async () => {
    const cases: Array<[string, Buffer, string[], RegExp]> = [
      ["dot-dot", newc([{ name: "./../../etc/passwd", data: "x" }]), ["/etc/passwd"], /escapes the root/],
      ["dot-dot inside", newc([{ name: "./usr/../../tmp/x" }]), ["/tmp/x"], /escapes the root/],
      [
        "not in header",
        newc([{ name: "./etc/shadow", data: "x" }]),
        ["/etc/passwd"],
        /not a file of the package header/,
      ],
      ["duplicate", newc([{ name: "./a" }, { name: "a" }]), ["/a"], /appears twice/],
      ["no trailer", newc([{ name: "./a", data: "x" }], false), ["/a"], /truncated/],
      ["bad magic", newc([{ name: "./a", magic: "070707" }]), ["/a"], /bad member magic/],
      [
        "incomplete link set",
        newc([{ name: "./a", ino: 3, nlink: 2 }]),
        ["/a"],
        /hard-link set of \/a is incomplete/,
      ],
      [
        "data before the last link",
        newc([
          { name: "./a", ino: 3, nlink: 2, data: "x" },
          { name: "./b", ino: 3, nlink: 2, data: "x" },
        ]),
        ["/a", "/b"],
        /data before the last member/,
      ],
      [
        "directory with content",
        newc([{ name: "./d", mode: 0o40755, data: "x" }]),
        ["/d"],
        /directory with content/,
      ],
      ["root as a file", newc([{ name: "./", data: "x" }]), ["/"], /the root is a file/],
      ["empty symlink", newc([{ name: "./l", mode: 0o120777 }]), ["/l"], /symlink target of 0 bytes/],
    ];
    for (const [what, archive, paths, msg] of cases) {
      const e = await failure(read(archive, paths));
      expect(e.code, what).toBe("INVALID_FORMAT");
      expect(e.message, what).toMatch(msg);
    }
    // a truncated file body
    const whole = newc([{ name: "./a", data: "0123456789abcdef" }]);
    expect((await failure(read(whole.subarray(0, 120), ["/a"]))).code).toBe("INVALID_FORMAT");
  });

  it("refuses rpm's stripped cpio (files over 4 GiB) as UNSUPPORTED", async () => {
    const e = await failure(read(newc([{ name: "./a", magic: "07070X" }]), ["/a"]));
    expect(e.code).toBe("UNSUPPORTED");
  });

  it("turns a decompressor's error into INVALID_FORMAT", async () => {
    const { createGunzip } = await import("node:zlib");
    const gz = gzipSync(newc([{ name: "./a", data: "x".repeat(1000) }]));
    gz[gz.length - 6] = gz[gz.length - 6]! ^ 0xff; // the CRC
    const stream = Readable.from([gz]).pipe(createGunzip());
    const it = readCpio(stream, header("/a"), "test.rpm");
    const e = await failure(
      (async () => {
        for await (const entry of it) for await (const _ of entry.body());
      })(),
    );
    expect(e.code).toBe("INVALID_FORMAT");
  });
});
