/**
 * The test images themselves: each one builds (or comes from the cache), skopeo reads it, it
 * survives a push to a real registry, and it has the shape the later issues rely on (checked with
 * independent tools: skopeo, umoci, tar, the host's dpkg-query and the raw bytes of the rootfs).
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { output, run } from "../harness/exec.js";
import { makeTempDir, safeRemove } from "../harness/fs.js";
import { ensureImage, IMAGE_NAMES, type ImageName, type TestImage } from "../harness/images.js";
import { hostAptSources, parseAptSources } from "../harness/mirrors.js";
import {
  blobPath,
  type OciIndex,
  readJsonBlob,
  resolveImages,
  taggedDescriptor,
} from "../harness/oci-layout.js";
import { aptUpgradeOracle, dpkgChecks, dpkgList, securityUpgrades, unpackImage } from "../harness/oracle.js";
import { pushImage } from "../harness/push.js";

const BUILD_TIMEOUT = 30 * 60_000;

/** skopeo inspect output, byte for byte (--raw: the manifest exactly as stored). */
async function skopeoInspect(ref: string, raw = false): Promise<string> {
  const tls = ref.startsWith("docker://") ? ["--tls-verify=false"] : [];
  return (await run("skopeo", ["inspect", ...tls, ...(raw ? ["--raw"] : []), ref])).stdout;
}

async function layerEntries(layout: string, digest: string): Promise<string[]> {
  return (await output("tar", ["-tzf", blobPath(layout, digest)])).split("\n");
}

/** The URIs of the host's own apt sources: where every image must point. */
function hostUris(): Set<string> {
  return new Set(hostAptSources().flatMap((e) => e.uris.map((u) => u.replace(/\/+$/, ""))));
}

/** All apt source entries of a rootfs (one-line and deb822). */
function imageSourceEntries(rootfs: string) {
  const list = join(rootfs, "etc/apt/sources.list");
  const d = join(rootfs, "etc/apt/sources.list.d");
  const entries = existsSync(list) ? parseAptSources(readFileSync(list, "utf8"), false) : [];
  if (existsSync(d)) {
    for (const f of readdirSync(d)) {
      if (f.endsWith(".sources")) entries.push(...parseAptSources(readFileSync(join(d, f), "utf8"), true));
      if (f.endsWith(".list")) entries.push(...parseAptSources(readFileSync(join(d, f), "utf8"), false));
    }
  }
  return entries;
}

function osRelease(rootfs: string): Record<string, string> {
  const text = readFileSync(join(rootfs, "usr/lib/os-release"), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .map((l) => /^(\w+)=(?:"(.*)"|(.*))$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2] ?? m[3] ?? ""]),
  );
}

describe.each(IMAGE_NAMES)("test image %s", (name: ImageName) => {
  let image: TestImage;
  let work: string;
  beforeAll(async () => {
    image = await ensureImage(name);
    work = makeTempDir(`images-${name}`);
  }, BUILD_TIMEOUT);
  afterAll(async () => {
    if (work) await safeRemove(work);
  });

  it("is cached: a second ensureImage returns the same build", async () => {
    const again = await ensureImage(name);
    expect(again.key).toBe(image.key);
    expect(again.digest).toBe(image.digest);
    expect(existsSync(join(image.layoutDir, "index.json"))).toBe(true);
    expect(image.ociRef).toBe(`oci:${image.layoutDir}:${image.tag}`);
    expect(image.buildSeconds).toBeGreaterThan(0);
  });

  it("is readable by skopeo, and its recorded digest is the digest of the raw manifest", async () => {
    const raw = await skopeoInspect(image.ociRef, true);
    expect(`sha256:${createHash("sha256").update(raw).digest("hex")}`).toBe(image.digest);
    expect(taggedDescriptor(image.layoutDir, image.tag).digest).toBe(image.digest);
    const platforms = resolveImages(image.layoutDir, image.tag).map((i) => i.platform);
    expect(platforms).toEqual(image.platforms);
  });

  it("pushes to a real registry, where skopeo inspect finds the same digest, and unpacks to the recorded packages", async () => {
    const reg = inject("registry");
    const pushed = await pushImage(image, reg.host, `harness/${name}:test`);
    expect(pushed.ref).toBe(`${reg.host}/harness/${name}:test`);
    const raw = await skopeoInspect(`docker://${pushed.ref}`, true);
    expect(`sha256:${createHash("sha256").update(raw).digest("hex")}`).toBe(pushed.digest);
    expect(pushed.digest).toBe(image.digest);
    const inspected = JSON.parse(await skopeoInspect(`docker://${pushed.pinned}`)) as {
      Digest: string;
      Layers: string[];
    };
    expect(inspected.Layers.length).toBe(image.layers);
    // registry -> skopeo -> umoci -> host dpkg-query: an independent path to the package list
    const { rootfs } = await unpackImage(`docker://${pushed.ref}`, join(work, "bundle"));
    expect(Object.fromEntries(await dpkgList(rootfs))).toEqual(image.packagesBefore);
    expect(Object.keys(image.packagesBefore).length).toBeGreaterThan(5);
  }, 300_000);
});

describe("image shapes", () => {
  const bundles: Partial<Record<ImageName, string>> = {};
  let work: string;
  beforeAll(() => {
    work = makeTempDir("image-shapes");
  });
  afterAll(async () => {
    await safeRemove(work);
  });
  async function rootfsOf(name: ImageName, platform?: string): Promise<string> {
    const key = `${name}${platform ?? ""}` as ImageName;
    if (!bundles[key]) {
      const image = await ensureImage(name);
      bundles[key] = (
        await unpackImage(image, join(work, key.replace(/\//g, "_")), platform ? { platform } : {})
      ).rootfs;
    }
    return bundles[key]!;
  }

  it("debian-bullseye: plain /bin, sources.list like debian:bullseye with the host's mirrors, slim", async () => {
    const r = await rootfsOf("debian-bullseye");
    expect(lstatSync(join(r, "bin")).isDirectory()).toBe(true);
    expect(osRelease(r)["VERSION_CODENAME"]).toBe("bullseye");
    expect(existsSync(join(r, "etc/apt/sources.list.d/debian.sources"))).toBe(false);
    const entries = parseAptSources(readFileSync(join(r, "etc/apt/sources.list"), "utf8"), false);
    expect(entries.map((e) => e.suites[0])).toEqual(["bullseye", "bullseye-security", "bullseye-updates"]);
    for (const e of entries) expect(hostUris()).toContain(e.uris[0]);
    expect(existsSync(join(r, "usr/share/man/man1"))).toBe(false);
    expect(existsSync(join(r, "etc/resolv.conf"))).toBe(false);
  }, 300_000);

  it("debian-bookworm: merged-/usr, deb822 debian.sources with Signed-By, no sources.list", async () => {
    const r = await rootfsOf("debian-bookworm");
    expect(readlinkSync(join(r, "bin"))).toBe("usr/bin");
    expect(readlinkSync(join(r, "lib"))).toBe("usr/lib");
    expect(osRelease(r)["VERSION_CODENAME"]).toBe("bookworm");
    expect(existsSync(join(r, "etc/apt/sources.list"))).toBe(false);
    const text = readFileSync(join(r, "etc/apt/sources.list.d/debian.sources"), "utf8");
    expect(text.match(/^Signed-By: \/usr\/share\/keyrings\/debian-archive-keyring.gpg$/gm)).toHaveLength(2);
    const entries = parseAptSources(text, true);
    expect(entries.flatMap((e) => e.suites)).toEqual(["bookworm", "bookworm-updates", "bookworm-security"]);
    for (const e of entries) expect(hostUris()).toContain(e.uris[0]);
    expect(existsSync(join(r, "usr/share/keyrings/debian-archive-keyring.gpg"))).toBe(true);
  }, 300_000);

  for (const [name, base] of [
    ["nginx-bullseye", "debian-bullseye"],
    ["nginx-bookworm", "debian-bookworm"],
  ] as const) {
    it(`${name}: ${base}'s layer blob + a second layer with whiteouts; nginx config`, async () => {
      const image = await ensureImage(name);
      const baseImage = await ensureImage(base);
      const [img] = resolveImages(image.layoutDir, image.tag);
      const [baseImg] = resolveImages(baseImage.layoutDir, baseImage.tag);
      expect(img!.manifest.layers).toHaveLength(2);
      expect(img!.manifest.layers[0]!.digest).toBe(baseImg!.manifest.layers[0]!.digest);
      expect(img!.config.rootfs.diff_ids[0]).toBe(baseImg!.config.rootfs.diff_ids[0]);
      const entries = await layerEntries(image.layoutDir, img!.manifest.layers[1]!.digest);
      const whiteouts = entries.filter((e) => /(^|\/)\.wh\./.test(e));
      expect(whiteouts).toContain("var/lib/apt/lists/.wh.lock");
      // nothing of the build chroot leaks into the layer
      expect(
        entries.filter((e) => /^(dev\/.|proc\/.|etc\/resolv\.conf|usr\/sbin\/policy-rc\.d)/.test(e)),
      ).toEqual([]);
      // the downloaded lists were removed in the same step, so only the directory and whiteouts remain
      expect(entries.filter((e) => /^var\/lib\/apt\/lists\/./.test(e) && !e.includes(".wh."))).toEqual([]);
      const cfg = img!.config.config as { Cmd: string[]; ExposedPorts: Record<string, unknown> };
      expect(cfg.Cmd).toEqual(["nginx", "-g", "daemon off;"]);
      expect(Object.keys(cfg.ExposedPorts)).toEqual(["80/tcp"]);
      const pkgs = image.packagesBefore;
      for (const p of ["nginx-light", "curl", "openssl", "ca-certificates"]) expect(pkgs[p]).toBeDefined();
      // the base's packages are all still there
      for (const p of Object.keys(baseImage.packagesBefore)) expect(pkgs[p]).toBeDefined();
    }, 300_000);
  }

  for (const [name, codename, file] of [
    ["ubuntu-jammy", "jammy", "etc/apt/sources.list"],
    ["ubuntu-noble", "noble", "etc/apt/sources.list.d/ubuntu.sources"],
  ] as const) {
    it(`${name}: Ubuntu ${codename}, merged-/usr, Ubuntu sources (release, -updates, -security) and keyring`, async () => {
      const r = await rootfsOf(name);
      const os = osRelease(r);
      expect(os["ID"]).toBe("ubuntu");
      expect(os["VERSION_CODENAME"]).toBe(codename);
      expect(readlinkSync(join(r, "bin"))).toBe("usr/bin");
      expect(existsSync(join(r, file))).toBe(true);
      const suites = new Set(imageSourceEntries(r).flatMap((e) => e.suites));
      for (const s of [codename, `${codename}-updates`, `${codename}-security`]) expect(suites).toContain(s);
      expect(existsSync(join(r, "usr/share/keyrings/ubuntu-archive-keyring.gpg"))).toBe(true);
      expect((await ensureImage(name)).distro).toBe("ubuntu");
    }, 300_000);
  }

  it("distroless-bookworm: status.d with md5sums, no dpkg, no apt, no status file, no sources", async () => {
    const image = await ensureImage("distroless-bookworm");
    const r = await rootfsOf("distroless-bookworm");
    const statusD = join(r, "var/lib/dpkg/status.d");
    const files = readdirSync(statusD).sort();
    const controls = files.filter((f) => !f.endsWith(".md5sums"));
    expect(controls.length).toBeGreaterThanOrEqual(10);
    for (const c of controls) {
      const text = readFileSync(join(statusD, c), "utf8");
      expect(text).toMatch(
        new RegExp(`^Package: ${c.replace(/[+.]/g, "\\$&")}\\nStatus: install ok installed\\n`),
      );
      expect(files).toContain(`${c}.md5sums`);
    }
    for (const absent of [
      "usr/bin/dpkg",
      "usr/bin/apt-get",
      "usr/bin/dpkg-query",
      "var/lib/dpkg/status",
      "etc/apt",
      "bin/sh",
    ]) {
      expect(existsSync(join(r, absent)), absent).toBe(false);
    }
    expect(readlinkSync(join(r, "lib"))).toBe("usr/lib");
    expect(existsSync(join(r, "usr/lib/x86_64-linux-gnu/libssl.so.3"))).toBe(true);
    expect(readFileSync(join(r, "etc/ssl/certs/ca-certificates.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
    expect(Object.keys(image.packagesBefore)).toContain("libssl3:amd64");
    // every file the packages' md5sums list is in the rootfs, unchanged (host dpkg --verify)
    const checks = await dpkgChecks(r);
    expect(checks.mode).toBe("host");
    expect(checks.apt).toBeUndefined();
    expect(checks.verify).toEqual([]);
    expect(checks.audit).toBe("");
    expect(checks.ok).toBe(true);
    // and the check can fail: a changed library shows up in dpkg --verify
    const lib = join(r, "usr/lib/x86_64-linux-gnu/libssl.so.3");
    const original = readFileSync(lib);
    writeFileSync(lib, Buffer.concat([original, Buffer.from("tampered")]));
    try {
      const tampered = await dpkgChecks(r);
      expect(
        tampered.verify.some((l) => /^\?\?5\S* +\/usr\/lib\/x86_64-linux-gnu\/libssl\.so\.3$/.test(l)),
      ).toBe(true);
    } finally {
      writeFileSync(lib, original);
    }
  }, 300_000);

  it("multiarch-bookworm: an index with linux/amd64 (debian-bookworm's manifest) and linux/arm64 entries with annotations", async () => {
    const image = await ensureImage("multiarch-bookworm");
    const bookworm = await ensureImage("debian-bookworm");
    const top = taggedDescriptor(image.layoutDir, image.tag);
    expect(top.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    const index = readJsonBlob<OciIndex>(image.layoutDir, top.digest);
    expect(index.manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`)).toEqual([
      "linux/amd64",
      "linux/arm64",
    ]);
    for (const m of index.manifests) expect(Object.keys(m.annotations ?? {}).length).toBeGreaterThan(0);
    expect(index.manifests[0]!.digest).toBe(bookworm.digest);
    expect(image.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
    // the arm64 rootfs really is arm64: ELF e_machine of its dpkg binary is EM_AARCH64 (183)
    const r = await rootfsOf("multiarch-bookworm", "linux/arm64");
    const elf = readFileSync(join(r, "usr/bin/dpkg"));
    expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    expect(elf.readUInt16LE(18)).toBe(183);
    const pkgs = await dpkgList(r);
    expect(pkgs.get("libc6:arm64")).toBeDefined();
    expect(Object.fromEntries(pkgs)).toEqual(image.packagesByPlatform["linux/arm64/v8"]);
    // cross-architecture health check with the host's dpkg/apt (no emulation)
    const checks = await dpkgChecks(r);
    expect(checks.mode).toBe("host");
    expect(checks.arch).toBe("arm64");
    expect(checks.audit).toBe("");
    expect(checks.badStates).toEqual([]);
    expect(checks.apt?.ok, checks.apt?.output).toBe(true);
    expect(checks.verify).toEqual([]);
    // apt's decisions for the arm64 image, simulated by the host's apt (no emulation)
    const oracle = await aptUpgradeOracle(r, { mode: "all" });
    const sec = securityUpgrades(oracle);
    expect(sec.length).toBeGreaterThan(0);
    for (const d of oracle.upgrades) {
      expect(["arm64", "all"]).toContain(d.arch);
      const bare = d.name.split(":")[0]!;
      expect(d.oldVersion).toBe(pkgs.get(d.name) ?? pkgs.get(`${bare}:arm64`));
    }
  }, 300_000);
});
