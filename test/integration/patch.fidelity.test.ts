/**
 * ORACLES: the real ca-certificates maintainer scripts (`dpkg -i` of the same .deb in a chroot of
 * the same image: config + postinst + the update-ca-certificates trigger, with the image's own
 * openssl rehash) decide what /etc/ssl/certs and /etc/ca-certificates.conf must be, byte for byte;
 * the image's own openssl then checks the patched trust store. In the same dpkg run, an upgraded
 * library whose file name changes and a library new to the image fire the libc-bin trigger: the
 * image's own ldconfig decides what /etc/ld.so.cache must be (byte for byte, and `ldconfig -p`) and
 * which SONAME links the library directory holds.
 */
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import { mutateImage } from "../../src/image/mutate.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { withChroot } from "../harness/chroot.js";
import { type CachedDeb, debianDeb, fetchedDeb } from "../harness/debian-packages.js";
import { startDockerd } from "../harness/dockerd.js";
import { ensureImage, type ImageName } from "../harness/images.js";
import { unpackImage } from "../harness/oracle.js";
import { dirNames } from "../harness/rootfs-diff.js";
import { checkTrustStore } from "../harness/trust-store.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-fidelity-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Everything in a directory: name → "symlink -> target" or "file MODE sha-less bytes". */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) out.set(name, `symlink -> ${readlinkSync(p)}`);
    else if (st.isFile())
      out.set(
        name,
        `file ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${readFileSync(p).toString("base64")}`,
      );
    else out.set(name, st.isDirectory() ? "directory" : "other");
  }
  return out;
}

function readIfExists(p: string): string | undefined {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
}

async function patchWith(name: ImageName, deb: CachedDeb, libs: readonly CachedDeb[], tag: string) {
  const img = await ensureImage(name);
  const image = await openImage(img.ociRef);
  // the view patch-image opens: the backends' capture patterns and file summaries (ldconfig's ELF reading)
  const fs = await LayeredFs.open(image, { scratchDir: work, ...backendViewOptions() });
  try {
    const inventory = await readInventoryFromFs(fs);
    const upgraded = fetchedDeb(inventory, deb);
    const installed = upgraded.installed;
    if (!installed) throw new Error(`${deb.name} is not installed in ${name}`);
    const debs = [upgraded, ...libs.map((l) => fetchedDeb(inventory, l))];
    const result = await buildPatchLayer({
      fs,
      inventory,
      packages: debs,
      compression: "gzip",
      layerPath: join(work, `${tag}.tar.gz`),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
    const patched = await mutateImage(image, {
      append: [result.layer],
      history: [{ created_by: "ocipatch test", comment: "patch layer" }],
    });
    const layout = join(work, `${tag}-layout`);
    await openSink(`oci:${layout}:patched`).write(patched);
    const ours = await unpackImage(`oci:${layout}:patched`, join(work, `${tag}-ours`));
    return { img, result, rootfs: ours.rootfs, installed, patched };
  } finally {
    await fs.close();
  }
}

/**
 * The real thing: dpkg -i with the maintainer scripts, in a chroot of the unpatched image. Also
 * returns the certificates the image trusted before.
 */
async function realDpkg(name: ImageName, deb: CachedDeb, libs: readonly CachedDeb[], tag: string) {
  const img = await ensureImage(name);
  const { rootfs } = await unpackImage(img.ociRef, join(work, `${tag}-real`));
  const oldTrusted = pemsOf(rootfs, readFileSync(join(rootfs, "etc/ca-certificates.conf"), "utf8"), true);
  const files = [deb, ...libs].map((d, i) => {
    copyFileSync(d.path, join(rootfs, `tmp/new${i}.deb`));
    return `/tmp/new${i}.deb`;
  });
  const ldconfigP = await withChroot(rootfs, async (c) => {
    await c.run(["dpkg", "-i", ...files]);
    // the libc-bin trigger ran ldconfig already; running it again must change nothing
    await c.run(["ldconfig"]);
    return (await c.run(["ldconfig", "-p"])).stdout;
  });
  for (const f of files) rmSync(join(rootfs, f));
  return { real: rootfs, oldTrusted, ldconfigP };
}

function pemsOf(rootfs: string, conf: string, enabled: boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of conf.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("!") === enabled) continue;
    const rel = line.replace(/^!/, "");
    const pem = readIfExists(join(rootfs, "usr/share/ca-certificates", rel));
    if (pem) out.set(rel, pem);
  }
  return out;
}

async function scenario(
  name: ImageName,
  deb: CachedDeb,
  libs: ReadonlyArray<CachedDeb & { soname: string }>,
  libDirs: readonly string[],
) {
  const tag = `${name}-${deb.version}`.replace(/[^A-Za-z0-9.-]/g, "_");
  const t0 = Date.now();
  const log = (what: string) => console.log(`${tag}: ${what} at ${Math.round((Date.now() - t0) / 1000)}s`);
  const { result, rootfs, installed, patched } = await patchWith(name, deb, libs, tag);
  log("patched");
  const { real, oldTrusted, ldconfigP } = await realDpkg(name, deb, libs, tag);
  log("dpkg -i done");

  // ldconfig: the cache byte for byte, what `ldconfig -p` lists, the SONAME links
  const ld = result.maintainerEffects?.filter((e) => e.effect === "ldconfig") ?? [];
  expect(ld.map((e) => e.package).sort()).toEqual(libs.map((l) => l.name).sort());
  for (const e of ld) expect(e.status, e.detail).toBe("applied natively");
  const ourCache = readFileSync(join(rootfs, "etc/ld.so.cache"));
  const realCache = readFileSync(join(real, "etc/ld.so.cache"));
  expect(ourCache.equals(realCache), "/etc/ld.so.cache differs from the real ldconfig's").toBe(true);
  const ourP = await withChroot(rootfs, async (c) => (await c.run(["ldconfig", "-p"])).stdout);
  expect(ourP).toBe(ldconfigP);
  for (const l of libs) expect(ourP).toContain(l.soname);
  for (const d of libDirs) expect(dirNames(join(rootfs, d)), d).toEqual(dirNames(join(real, d)));

  // byte for byte: /etc/ssl/certs (names, link targets, file bytes, modes) and the configuration
  const oursCerts = snapshot(join(rootfs, "etc/ssl/certs"));
  const realCerts = snapshot(join(real, "etc/ssl/certs"));
  expect([...oursCerts.keys()]).toEqual([...realCerts.keys()]);
  expect(oursCerts).toEqual(realCerts);
  expect(readIfExists(join(rootfs, "etc/ca-certificates.conf"))).toBe(
    readIfExists(join(real, "etc/ca-certificates.conf")),
  );
  expect(readIfExists(join(rootfs, "etc/ca-certificates.conf.dpkg-old"))).toBe(
    readIfExists(join(real, "etc/ca-certificates.conf.dpkg-old")),
  );
  const effect = result.maintainerEffects?.find((e) => e.effect === "update-ca-certificates");
  expect(effect?.status).toBe("applied natively");
  expect(effect?.package).toBe("ca-certificates");

  // the image's own openssl: trusts exactly what the new configuration enables
  const conf = readFileSync(join(rootfs, "etc/ca-certificates.conf"), "utf8");
  const trusted = pemsOf(rootfs, conf, true);
  const trustedKeys = new Set(
    [...trusted.values()].map((p) => {
      const c = new X509Certificate(p);
      return `${c.subject}\n${c.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`;
    }),
  );
  // dropped: trusted before, not now, and not the same subject and key as a trusted one (a re-issued root)
  const dropped = [...oldTrusted].filter(([rel, pem]) => {
    if (trusted.has(rel)) return false;
    const c = new X509Certificate(pem);
    return !trustedKeys.has(
      `${c.subject}\n${c.publicKey.export({ type: "spki", format: "der" }).toString("base64")}`,
    );
  });
  expect(dropped.length).toBeGreaterThan(0);
  log("checking the trust store");
  const check = (root: string) =>
    withChroot(root, (c) =>
      checkTrustStore(
        async (script, stdin) => (await c.run(["/bin/sh", "-c", script], { input: stdin })).stdout,
        [...trusted.values()],
        dropped.map(([, pem]) => pem),
      ),
    );
  const report = await check(rootfs);
  expect(report.trusted.length).toBe(trusted.size);
  // none it dropped is trusted, with the bundle or with the hash links
  expect(report.dropped.filter(([a, b]) => a || b)).toEqual([]);
  // every hash link resolves to a certificate of that subject hash
  expect(report.links.size).toBeGreaterThanOrEqual(trusted.size);
  for (const [link, hash] of report.links)
    expect(link.startsWith(`${hash}.`), `${link} -> ${hash}`).toBe(true);
  // every certificate it enables is trusted, except one this openssl cannot use as an anchor at all:
  // then the image after the real dpkg run fails it the same way
  const names = [...trusted.keys()];
  const untrusted = report.trusted.flatMap(([a, b], i) => (a && b ? [] : [names[i]!]));
  if (untrusted.length > 0) {
    log(`not verified by the image's openssl: ${untrusted.join(", ")}`);
    expect((await check(real)).trusted).toEqual(report.trusted);
  }
  expect(untrusted.length).toBeLessThan(trusted.size / 20);

  // where it matters: a real container of the patched image (Docker engine, no network) sees the same
  log("checking the trust store in a container");
  const engine = await startDockerd();
  try {
    const name = `ocipatch-fidelity:${tag.toLowerCase()}`;
    await openSink(`docker-daemon:${name}`, { env: engine.env }).write(patched);
    const inContainer = await checkTrustStore(
      async (script, stdin) =>
        (
          await engine.docker(["run", "--rm", "-i", "--network", "none", name, "/bin/sh", "-c", script], {
            input: stdin,
          })
        ).stdout,
      [...trusted.values()],
      dropped.map(([, pem]) => pem),
    );
    expect(inContainer.trusted).toEqual(report.trusted);
    expect(inContainer.dropped.filter(([a, b]) => a || b)).toEqual([]);
    expect(inContainer.links).toEqual(report.links);
  } finally {
    await engine.stop();
  }
  return { result, installed, trusted, dropped };
}

describe("ca-certificates postinst reproduced natively", () => {
  it("nginx-bookworm: 20230311 → trixie's ca-certificates (new and removed roots)", async () => {
    const { installed } = await scenario(
      "nginx-bookworm",
      debianDeb("trixie", "ca-certificates"),
      [
        { ...debianDeb("trixie", "zlib1g"), soname: "libz.so.1" },
        { ...debianDeb("bookworm", "libyaml-0-2"), soname: "libyaml-0.so.2" },
      ],
      ["usr/lib/x86_64-linux-gnu"],
    );
    expect(installed.version).toMatch(/^20230311/);
  }, 900_000);

  it("nginx-bullseye: 20210119 → bookworm's ca-certificates (OpenSSL 1.1.1 rehash)", async () => {
    const { installed } = await scenario(
      "nginx-bullseye",
      debianDeb("bookworm", "ca-certificates"),
      [
        { ...debianDeb("bookworm", "zlib1g"), soname: "libz.so.1" },
        { ...debianDeb("bullseye", "libyaml-0-2"), soname: "libyaml-0.so.2" },
      ],
      ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu"],
    );
    expect(installed.version).toBe("20210119");
  }, 900_000);
});
