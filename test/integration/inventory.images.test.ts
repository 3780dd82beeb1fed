/**
 * Inventory of real images (Debian bullseye/bookworm, the 2-layer nginx image whose
 * second layer has whiteouts, Ubuntu jammy, distroless-style status.d) equals what
 * dpkg-query reports on the image unpacked by umoci, package by package.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { backendCapturePatterns } from "../../src/backends/registry.js";
import type { Image } from "../../src/image/image.js";
import { selectImage } from "../../src/image/select.js";
import { readInventory, readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openOciLayout } from "../../src/transport/oci-layout/index.js";
import { skipOrFail } from "../harness/missing.js";
import { type TestImageName, testImageLayout } from "./inventory.images.js";
import { dpkgQuery, shellOsRelease, type Unpacked, unpackWithUmoci } from "./inventory.oracle.js";

const IMAGES: TestImageName[] = [
  "debian-bullseye",
  "debian-bookworm",
  "nginx-bullseye",
  "ubuntu-jammy",
  "distroless-bookworm",
];

const unpacked = new Map<string, Unpacked>();
afterAll(() => {
  for (const u of unpacked.values()) u.cleanup();
});

async function load(name: TestImageName): Promise<{ image: Image; rootfs: string } | undefined> {
  const t = await testImageLayout(name);
  if (!t) return undefined;
  const image = await selectImage(await openOciLayout(t.layoutDir, t.tag));
  let u = unpacked.get(name);
  if (!u) {
    u = unpackWithUmoci(t.layoutDir, t.tag);
    unpacked.set(name, u);
  }
  return { image, rootfs: u.rootfs };
}

const PM_BINARIES = ["usr/bin/dpkg", "usr/bin/apt-get", "sbin/apk", "usr/bin/rpm"];

describe.each(IMAGES)("inventory of %s", (name) => {
  it("equals dpkg-query on the unpacked image, package by package", { timeout: 600_000 }, async (ctx) => {
    const img = await load(name);
    if (!img)
      return skipOrFail(ctx, `test image ${name} is not available (the test-image harness builds it)`);
    const inv = await readInventory(img.image);
    const oracle = dpkgQuery(img.rootfs).filter((r) => r.status === "ii" || r.status === "hi");
    expect(oracle.length).toBeGreaterThan(5);
    const key = (n: string, a: string) => `${n}:${a}`;
    const ours = new Map(
      inv.packages.map((p) => [key(p.name, p.architecture), [p.version, p.sourceName, p.sourceVersion]]),
    );
    const theirs = new Map(
      oracle.map((r) => [key(r.name, r.arch), [r.version, r.sourceName, r.sourceVersion]]),
    );
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [k, v] of theirs) expect(ours.get(k), k).toEqual(v);
    expect(inv.packageManager).toBe("dpkg");
    expect(inv.warnings).toEqual([]);

    const os = shellOsRelease(img.rootfs);
    expect({ id: inv.os.id, versionId: inv.os.versionId ?? "", codename: inv.os.codename ?? "" }).toEqual(os);
    expect(inv.os.family).toBe("debian");

    const hasManager = PM_BINARIES.some((b) => existsSync(join(img.rootfs, b)));
    expect(inv.distroless).toBe(!hasManager);
    if (name === "distroless-bookworm") expect(inv.distroless).toBe(true);
  });

  it("merges directories across layers like umoci", { timeout: 600_000 }, async (ctx) => {
    const img = await load(name);
    if (!img) return skipOrFail(ctx, `test image ${name} is not available`);
    const fs = await LayeredFs.open(img.image);
    try {
      for (const dir of [
        "/",
        "/etc",
        "/usr/bin",
        "/var/lib/dpkg",
        "/var/lib/dpkg/info",
        "/var/lib/apt/lists",
        "/var/lib/dpkg/status.d",
      ]) {
        const real = join(img.rootfs, dir);
        if (!existsSync(real) || !lstatSync(real).isDirectory()) {
          expect(await fs.lstat(dir).then((e) => e?.type === "directory"), dir).toBe(false);
          continue;
        }
        const expected = readdirSync(real).sort();
        expect(await fs.readdir(dir), dir).toEqual(expected);
        for (const e of await fs.readdirEntries(dir)) {
          const st = lstatSync(join(img.rootfs, e.path));
          const type = st.isSymbolicLink()
            ? "symlink"
            : st.isDirectory()
              ? "directory"
              : st.isFile()
                ? "file"
                : "other";
          expect(
            e.type === "char-device" || e.type === "block-device" || e.type === "fifo" ? "other" : e.type,
            e.path,
          ).toBe(type);
          if (type === "file") expect(e.size, e.path).toBe(st.size);
          expect(e.mode, e.path).toBe(st.mode & 0o7777);
        }
      }
    } finally {
      await fs.close();
    }
  });
});

describe("layer reading of the 2-layer nginx image", () => {
  it("reads the dpkg status from the top layer alone when the layer holds its directories", {
    timeout: 600_000,
  }, async (ctx) => {
    const t = await testImageLayout("nginx-bullseye");
    if (!t) return skipOrFail(ctx, "nginx-bullseye is not available");
    const image = await selectImage(await openOciLayout(t.layoutDir, t.tag));
    const layers = await image.layers();
    expect(layers.length).toBe(2);
    const top = layers[1]!;
    // Independent check of what the top layer holds (GNU tar).
    const names = new Set(
      execFileSync("tar", ["-tzf", join(t.layoutDir, "blobs/sha256", top.digest.slice(7))], {
        encoding: "utf8",
        maxBuffer: 64 << 20,
      })
        .split("\n")
        .map((n) => n.replace(/^\.\//, "").replace(/\/$/, "")),
    );
    expect([...names].some((n) => n.includes("/.wh."))).toBe(true);
    const selfContained = ["var", "var/lib", "var/lib/dpkg", "var/lib/dpkg/status"].every((p) =>
      names.has(p),
    );

    // as inventory and patch open it: the backends' small files kept in memory
    const fs = new LayeredFs(layers, image.description, { extraCapturePatterns: backendCapturePatterns() });
    await fs.readFile("/var/lib/dpkg/status");
    const s1 = fs.stats();
    expect(s1.layers.map((l) => l.index)).toEqual(selfContained ? [1] : [1, 0]);
    expect(s1.bytesDownloaded).toBe(selfContained ? top.size : s1.imageBytes);

    // The whole inventory needs the base layer too (os-release lives there), each layer read once.
    const inv = await readInventoryFromFs(fs);
    expect(inv.packages.length).toBeGreaterThan(100);
    const s2 = fs.stats();
    expect(s2.layers.map((l) => [l.index, l.reads])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(s2.bytesDownloaded).toBe(s2.imageBytes);
    await fs.close();
  });
});

describe("compressed and uncompressed layers", () => {
  it("reads zstd and uncompressed copies of the nginx image (made by skopeo) like the gzip original", {
    timeout: 600_000,
  }, async (ctx) => {
    const t = await testImageLayout("nginx-bullseye");
    if (!t) return skipOrFail(ctx, "nginx-bullseye is not available");
    const original = await readInventory(await selectImage(await openOciLayout(t.layoutDir, t.tag)));
    const dir = mkdtempSync(join(tmpdir(), "ocipatch-zstd-"));
    try {
      const zstd = join(dir, "zstd");
      execFileSync("skopeo", [
        "copy",
        "-q",
        "--dest-compress-format",
        "zstd",
        `oci:${t.layoutDir}:${t.tag}`,
        `oci:${zstd}:x`,
      ]);
      const none = uncompressedCopy(t.layoutDir, t.tag, join(dir, "none"));
      for (const [layout, mediaType] of [
        [zstd, "application/vnd.oci.image.layer.v1.tar+zstd"],
        [none, "application/vnd.oci.image.layer.v1.tar"],
      ] as const) {
        const image = await selectImage(await openOciLayout(layout, "x"));
        expect(image.manifest.layers.map((l) => l.mediaType)).toEqual([mediaType, mediaType]);
        const inv = await readInventory(image);
        expect(inv.packages.map((p) => `${p.name}:${p.architecture}=${p.version}`)).toEqual(
          original.packages.map((p) => `${p.name}:${p.architecture}=${p.version}`),
        );
        expect(inv.os).toEqual(original.os);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** An OCI layout with the same image, its gzip layers stored uncompressed (built with zlib, not ocipatch). */
function uncompressedCopy(layoutDir: string, tag: string, dest: string): string {
  const blob = (d: string) => join(layoutDir, "blobs/sha256", d.slice(7));
  const put = (b: Buffer) => {
    const hex = createHash("sha256").update(b).digest("hex");
    writeFileSync(join(dest, "blobs/sha256", hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  mkdirSync(join(dest, "blobs/sha256"), { recursive: true });
  writeFileSync(join(dest, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  const index = JSON.parse(readFileSync(join(layoutDir, "index.json"), "utf8"));
  const desc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) =>
      m.annotations?.["org.opencontainers.image.ref.name"] === tag,
  );
  const manifest = JSON.parse(readFileSync(blob(desc.digest), "utf8"));
  put(readFileSync(blob(manifest.config.digest)));
  manifest.layers = manifest.layers.map((l: { digest: string }) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar",
    ...put(gunzipSync(readFileSync(blob(l.digest)))),
  }));
  const m = put(Buffer.from(JSON.stringify(manifest)));
  writeFileSync(
    join(dest, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...m,
          annotations: { "org.opencontainers.image.ref.name": "x" },
        },
      ],
    }),
  );
  return dest;
}
