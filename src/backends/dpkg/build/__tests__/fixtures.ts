/** Test helpers: real .debs built with dpkg-deb, synthetic images, and reading a layer back. */
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tar from "tar-stream";
import type { FileLayer } from "../../../../image/file-layer.js";
import { readInventoryFromFs } from "../../../../inventory/index.js";
import type { EntrySpec } from "../../../../rootfs/__tests__/synthetic.js";
import { MemoryLayer } from "../../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../../rootfs/index.js";

export interface DebSpec {
  readonly name: string;
  readonly version: string;
  readonly arch?: string;
  readonly multiArch?: string;
  readonly depends?: string;
  readonly replaces?: string;
  readonly dirs?: readonly string[];
  readonly files?: Readonly<Record<string, string | Buffer | { content: string | Buffer; mode: number }>>;
  readonly symlinks?: Readonly<Record<string, string>>;
  /** link → existing file (both package paths). */
  readonly hardlinks?: Readonly<Record<string, string>>;
  readonly conffiles?: readonly string[];
  readonly scripts?: Readonly<Record<string, string>>;
}

/** Build a real .deb with `dpkg-deb --build --root-owner-group`. */
export function buildDeb(work: string, spec: DebSpec): string {
  const root = join(work, `${spec.name}_${spec.version}-root`);
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  const control = [
    `Package: ${spec.name}`,
    `Version: ${spec.version}`,
    `Architecture: ${spec.arch ?? "amd64"}`,
    ...(spec.multiArch ? [`Multi-Arch: ${spec.multiArch}`] : []),
    "Maintainer: Test <test@example.org>",
    ...(spec.depends ? [`Depends: ${spec.depends}`] : []),
    ...(spec.replaces ? [`Replaces: ${spec.replaces}`] : []),
    "Section: misc",
    "Priority: optional",
    `Description: test package ${spec.name}`,
    " Built by the patch layer builder tests.",
  ];
  writeFileSync(join(root, "DEBIAN/control"), `${control.join("\n")}\n`);
  if (spec.conffiles) writeFileSync(join(root, "DEBIAN/conffiles"), `${spec.conffiles.join("\n")}\n`);
  for (const [n, body] of Object.entries(spec.scripts ?? {})) {
    writeFileSync(join(root, "DEBIAN", n), body);
    chmodSync(join(root, "DEBIAN", n), 0o755);
  }
  for (const d of spec.dirs ?? []) mkdirSync(join(root, d), { recursive: true });
  for (const [p, v] of Object.entries(spec.files ?? {})) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    const { content, mode } = typeof v === "string" || Buffer.isBuffer(v) ? { content: v, mode: 0o644 } : v;
    writeFileSync(join(root, p), content);
    chmodSync(join(root, p), mode);
  }
  for (const [p, t] of Object.entries(spec.symlinks ?? {})) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    symlinkSync(t, join(root, p));
  }
  for (const [p, t] of Object.entries(spec.hardlinks ?? {})) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    linkSync(join(root, t), join(root, p));
  }
  const out = join(work, `${spec.name}_${spec.version}_${spec.arch ?? "amd64"}.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zgzip", "--build", root, out], { stdio: "pipe" });
  return out;
}

// Python's tarfile writes a hostile data.tar (dpkg-deb refuses to); binutils ar wraps it into a .deb.
const MKTAR = `
import sys, tarfile, io, json
spec = json.loads(sys.argv[2])
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as t:
    for e in spec:
        i = tarfile.TarInfo(e["name"])
        i.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "lnk": tarfile.LNKTYPE}[e["type"]]
        i.linkname = e.get("link", "")
        i.mode = 0o755 if e["type"] == "dir" else 0o644
        data = e.get("data", "").encode()
        i.size = len(data) if e["type"] == "file" else 0
        t.addfile(i, io.BytesIO(data) if e["type"] == "file" else None)
`;

/** A .deb whose data.tar is exactly `data` (entries {name, type: file|dir|sym|lnk, link?, data?}). */
export function craftDeb(work: string, name: string, data: Array<Record<string, string>>): string {
  const d = join(work, `craft-${name}`);
  mkdirSync(join(d, "ctl"), { recursive: true });
  writeFileSync(join(d, "debian-binary"), "2.0\n");
  writeFileSync(
    join(d, "ctl", "control"),
    `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: x <x@example.org>\nDescription: test\n`,
  );
  execFileSync("tar", ["-czf", join(d, "control.tar.gz"), "-C", join(d, "ctl"), "./control"]);
  execFileSync("python3", ["-c", MKTAR, join(d, "data.tar.gz"), JSON.stringify(data)]);
  const deb = join(work, `${name}.deb`);
  execFileSync("ar", ["rcS", deb, "debian-binary", "control.tar.gz", "data.tar.gz"], { cwd: d });
  return deb;
}

export const dir = (name: string, mode = 0o755): EntrySpec => ({ name, type: "directory", mode });
export const file = (name: string, content: string, mode = 0o644): EntrySpec => ({ name, content, mode });
export const link = (name: string, linkname: string): EntrySpec => ({ name, type: "symlink", linkname });

/** A merged-/usr Debian-like base: /bin, /sbin, /lib, /lib64 are symlinks into /usr. */
export function mergedUsrBase(): EntrySpec[] {
  return [
    dir("./"),
    dir("./etc/"),
    file("./etc/os-release", 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'),
    file("./etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
    file("./etc/group", "root:x:0:\nadm:x:4:\n"),
    dir("./usr/"),
    dir("./usr/bin/"),
    dir("./usr/sbin/"),
    dir("./usr/lib/"),
    dir("./usr/lib64/"),
    dir("./usr/share/"),
    link("./bin", "usr/bin"),
    link("./sbin", "usr/sbin"),
    link("./lib", "usr/lib"),
    link("./lib64", "usr/lib64"),
    file("./usr/bin/dpkg", "ELF", 0o755),
    dir("./var/"),
    dir("./var/lib/"),
    dir("./var/lib/dpkg/"),
    dir("./var/lib/dpkg/info/"),
  ];
}

/** A LayeredFs over synthetic layers (bottom to top) and the inventory read from it. */
export async function imageOf(layers: EntrySpec[][]) {
  const ls = await Promise.all(layers.map((l) => MemoryLayer.of(l, "gzip")));
  const fs = new LayeredFs(ls, "test image");
  const inventory = await readInventoryFromFs(fs);
  return { fs, inventory };
}

export interface LayerEntry {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly linkname: string | undefined;
  readonly content: string;
}

/** Every entry of a layer by name (trailing slash of directories dropped). */
export async function readLayer(layer: FileLayer): Promise<Map<string, LayerEntry>> {
  const out = new Map<string, LayerEntry>();
  const ex = tar.extract();
  const stream = await layer.uncompressed();
  stream.pipe(ex);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const name = e.header.name.replace(/\/$/, "");
    if (out.has(name)) throw new Error(`duplicate layer entry ${name}`);
    out.set(name, {
      type: e.header.type ?? "file",
      mode: e.header.mode ?? 0,
      uid: e.header.uid ?? 0,
      gid: e.header.gid ?? 0,
      linkname: e.header.linkname ?? undefined,
      content: Buffer.concat(chunks).toString("utf8"),
    });
  }
  return out;
}

export function md5(s: string): string {
  return execFileSync("md5sum", { input: s }).toString().split(" ")[0]!;
}
