import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { sha256 } from "../../../util/digest.js";
import { readAll } from "../../../util/streams.js";
import { LayerWriter } from "../layer-writer.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-layer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("LayerWriter", () => {
  for (const compression of ["gzip", "zstd", "none"] as const) {
    it(`writes a ${compression} layer that GNU tar reads back, with matching digests`, async () => {
      const path = join(dir, `layer-${compression}`);
      const w = new LayerWriter(path, compression);
      await w.addDirectory("usr/lib/", { mode: 0o755 });
      await w.addFile("usr/lib/libx.so.1", { mode: 0o644, uid: 0, gid: 0 }, 5, Buffer.from("hello"));
      await w.addFile(
        "usr/bin/tool",
        { mode: 0o4755 },
        3,
        Readable.from([Buffer.from("a"), Buffer.from("bc")]),
      );
      await w.addSymlink("usr/lib/libx.so", "libx.so.1", { mode: 0o777 });
      await w.addHardlink("usr/bin/tool2", "usr/bin/tool", { mode: 0o4755 });
      await w.addWhiteout("etc/old.conf");
      const long = `usr/share/${"d".repeat(120)}/${"f".repeat(120)}`;
      await w.addFile(long, { mode: 0o600, uid: 7, gid: 8, uname: "u", gname: "g" }, 1, Buffer.from("x"));
      const { layer, entries, uncompressedSize } = await w.finish();
      expect(entries).toBe(7);

      const blob = readFileSync(path);
      expect(layer.digest).toBe(sha256(blob));
      expect(layer.size).toBe(blob.length);
      const tarBytes = await readAll(await layer.uncompressed());
      expect(tarBytes.length).toBe(uncompressedSize);
      expect(layer.diffId).toBe(sha256(tarBytes));

      const tarFile = join(dir, `plain-${compression}.tar`);
      require_write(tarFile, tarBytes);
      const listing = execFileSync("tar", ["-tvf", tarFile, "--numeric-owner"], { encoding: "utf8" });
      expect(listing).toMatch(/^drwxr-xr-x 0\/0 .* usr\/lib\/$/m);
      expect(listing).toMatch(/^-rwsr-xr-x 0\/0 +3 .* usr\/bin\/tool$/m);
      expect(listing).toMatch(/usr\/lib\/libx\.so -> libx\.so\.1$/m);
      expect(listing).toMatch(/usr\/bin\/tool2 link to usr\/bin\/tool$/m);
      expect(listing).toMatch(/etc\/\.wh\.old\.conf$/m);
      expect(listing).toMatch(new RegExp(`^-rw------- 7/8 +1 .* ${long}$`, "m"));
      const content = execFileSync("tar", ["-xOf", tarFile, "usr/bin/tool"], { encoding: "utf8" });
      expect(content).toBe("abc");
    });
  }

  for (const [compression, tool] of [
    ["gzip", "gzip"],
    ["zstd", "zstd"],
  ] as const) {
    it(`a multi-megabyte ${compression} layer (compressed on both cores) is one stream ${tool} -d restores; digests match; same bytes twice`, async () => {
      const big = Buffer.from(
        Array.from({ length: 300_000 }, (_, i) => `line ${i} ${(i * 2654435761) % 1000003}\n`).join(""),
      );
      const write = async (name: string, mtime: Date) => {
        const w = new LayerWriter(join(dir, name), compression, undefined, mtime);
        await w.addDirectory("data/", { mode: 0o755 });
        // streamed in uneven pieces
        const pieces: Buffer[] = [];
        for (let i = 0; i < big.length; i += 70_001) pieces.push(big.subarray(i, i + 70_001));
        await w.addFile("data/big.txt", { mode: 0o644 }, big.length, Readable.from(pieces));
        await w.addFile("data/small", { mode: 0o644 }, 2, Buffer.from("hi"));
        return (await w.finish()).layer;
      };
      const fixed = new Date("2024-01-02T03:04:05Z");
      const layer = await write(`big-${compression}-1`, fixed);
      const blob = readFileSync(join(dir, `big-${compression}-1`));
      expect(blob.length).toBeGreaterThan(100_000);
      expect(layer.digest).toBe(sha256(blob));
      const tarBytes = execFileSync(tool, ["-d", "-c"], { input: blob, maxBuffer: 1 << 30 });
      expect(layer.diffId).toBe(sha256(tarBytes));
      const extracted = execFileSync("tar", ["-xOf", "-", "data/big.txt"], {
        input: tarBytes,
        maxBuffer: 1 << 30,
      });
      expect(extracted.equals(big)).toBe(true);
      const again = await write(`big-${compression}-2`, fixed);
      expect(again.digest).toBe(layer.digest);
    });
  }

  it("writes xattrs as PAX SCHILY.xattr records (raw bytes) that GNU tar and Python's tarfile read back", async () => {
    const path = join(dir, "layer-xattrs");
    const w = new LayerWriter(path, "none");
    // every byte value, '=' and newlines included: the records are bytes, not text
    const odd = Buffer.from([
      0,
      0xff,
      0x0a,
      0x3d,
      0x20,
      0x80,
      0xc3,
      0x28,
      ...Array.from({ length: 256 }, (_, i) => i),
    ]);
    const cap = Buffer.from("0100000200200000000000000000000000000000", "hex");
    const long = `usr/${"d".repeat(120)}/${"é".repeat(60)}`;
    await w.addFile(
      "usr/bin/pinger",
      { mode: 0o755, xattrs: { "security.capability": cap } },
      2,
      Buffer.from("p\n"),
    );
    await w.addFile("usr/bin/plain", { mode: 0o644 }, 1, Buffer.from("x"));
    await w.addFile(
      long,
      { mode: 0o644, xattrs: { "user.ocipatch": odd, "security.capability": cap } },
      1,
      Readable.from([Buffer.from("y")]),
    );
    const { entries, paths } = await w.finish();
    expect(entries).toBe(3);
    expect(paths.has(long)).toBe(true);
    const py = `
import json, sys, tarfile
out = {}
with tarfile.open(sys.argv[1], encoding="utf-8") as t:
    for m in t.getmembers():
        out[m.name] = {k: v.encode("utf-8", "surrogateescape").hex() for k, v in m.pax_headers.items() if k.startswith("SCHILY.")}
        out[m.name]["data"] = t.extractfile(m).read().decode()
print(json.dumps(out))
`;
    const got = JSON.parse(execFileSync("python3", ["-c", py, path], { encoding: "utf8" })) as Record<
      string,
      Record<string, string>
    >;
    expect(got).toEqual({
      "usr/bin/pinger": { "SCHILY.xattr.security.capability": cap.toString("hex"), data: "p\n" },
      "usr/bin/plain": { data: "x" },
      [long]: {
        "SCHILY.xattr.security.capability": cap.toString("hex"),
        "SCHILY.xattr.user.ocipatch": odd.toString("hex"),
        data: "y",
      },
    });
    // GNU tar lists the entries by their PAX paths and reports the xattrs
    const listing = execFileSync("tar", ["--xattrs", "--xattrs-include=*", "-tvvf", path], {
      encoding: "utf8",
    });
    expect(listing).toMatch(/usr\/bin\/pinger\n/);
    expect(listing).toContain(long);
    expect(listing).not.toMatch(/PaxHeader/);
  });

  it("refuses unsafe paths", async () => {
    const w = new LayerWriter(join(dir, "bad"), "none");
    await expect(w.addFile("../etc/passwd", { mode: 0o644 }, 0, Buffer.alloc(0))).rejects.toThrow(/unsafe/);
    await w.abort();
  });
});

function require_write(p: string, b: Buffer): void {
  // small helper to keep the test body readable
  execFileSync("dd", [`of=${p}`, "status=none"], { input: b });
}
