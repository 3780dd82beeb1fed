/**
 * ORACLE: real dpkg in a bookworm chroot (mmdebstrap minbase) decides what an upgrade must leave.
 * A scenario installs its old .debs with the chroot's dpkg, lets the test change the root (an
 * admin's diversion, an edited file), copies it, and runs `dpkg --force-confold -i` of the new
 * .debs in the copy. The root before that run becomes a one-layer OCI image; buildPatchLayer
 * patches it; the patched image is unpacked with umoci and compared, file by file and record by
 * record of /var/lib/dpkg/status, with what dpkg left.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  linkSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import type { FetchedPackage, PatchLayer } from "../../src/backends/types.js";
import type { Image } from "../../src/image/index.js";
import { mutateImage } from "../../src/image/mutate.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { newImageFromTar } from "./build/umoci.js";
import { chrootTarball } from "./debian-packages.js";
import { unpackImage } from "./oracle.js";
import { diffRootfs } from "./rootfs-diff.js";

export interface TestDebSpec {
  readonly name: string;
  readonly version: string;
  readonly arch?: string;
  /** Extra control fields (`Replaces: bar`). */
  readonly control?: Readonly<Record<string, string>>;
  /** Package path (no leading slash) → content. */
  readonly files: Readonly<Record<string, string>>;
  /** Directories shipped besides the files' parents (no leading slash). */
  readonly dirs?: readonly string[];
  /** Symlinks: package path (no leading slash) → link target as stored. */
  readonly links?: Readonly<Record<string, string>>;
  /** Hard links: package path (no leading slash) → the file of `files` it is a link to. */
  readonly hardlinks?: Readonly<Record<string, string>>;
  readonly conffiles?: readonly string[];
}

/** A real .deb built by `dpkg-deb --root-owner-group` in `dir`. */
export function buildTestDeb(dir: string, spec: TestDebSpec): string {
  const root = join(dir, `${spec.name}_${spec.version}.tree`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  const fields = {
    Package: spec.name,
    Version: spec.version,
    Architecture: spec.arch ?? "all",
    Maintainer: "Test <test@example.org>",
    ...spec.control,
    Description: `test package ${spec.name}`,
  };
  writeFileSync(
    join(root, "DEBIAN/control"),
    Object.entries(fields)
      .map(([k, v]) => `${k}: ${v}\n`)
      .join(""),
  );
  if (spec.conffiles) writeFileSync(join(root, "DEBIAN/conffiles"), `${spec.conffiles.join("\n")}\n`);
  for (const d of spec.dirs ?? []) mkdirSync(join(root, d), { recursive: true });
  for (const [p, content] of Object.entries(spec.files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), content);
    chmodSync(join(root, p), 0o644);
  }
  for (const [p, target] of Object.entries(spec.links ?? {})) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    symlinkSync(target, join(root, p));
  }
  for (const [p, target] of Object.entries(spec.hardlinks ?? {})) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    linkSync(join(root, target), join(root, p));
  }
  const out = join(dir, `${spec.name}_${spec.version}_${fields.Architecture}.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "--build", root, out], { stdio: "ignore" });
  rmSync(root, { recursive: true, force: true });
  return out;
}

/** Runs the chroot's own program (dpkg, dpkg-divert) with a clean environment. */
export function inChroot(root: string, argv: readonly string[]): string {
  return execFileSync("chroot", [root, ...argv], {
    env: CHROOT_ENV,
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

const CHROOT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" };

/** `dpkg [flags] -i debs` in the chroot; returns what dpkg printed. */
export function dpkgInstall(root: string, debs: readonly string[], flags: readonly string[] = []): string {
  const r = dpkgRun(root, debs, flags);
  if (!r.ok) throw new Error(`dpkg -i ${debs.map((d) => basename(d)).join(" ")} failed:\n${r.output}`);
  return r.output;
}

/** `dpkg [flags] -i debs` in the chroot, failing or not: its exit and everything it printed. */
function dpkgRun(
  root: string,
  debs: readonly string[],
  flags: readonly string[],
): { ok: boolean; output: string } {
  const dir = join(root, "tmp/debs");
  mkdirSync(dir, { recursive: true });
  for (const d of debs) cpSync(d, join(dir, basename(d)));
  try {
    const r = spawnSync(
      "chroot",
      [root, "dpkg", ...flags, "-i", ...debs.map((d) => `/tmp/debs/${basename(d)}`)],
      { env: CHROOT_ENV, encoding: "utf8" },
    );
    return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface UpgradeScenario {
  /** A fresh directory for this scenario. */
  readonly work: string;
  /** Installed first, by the chroot's dpkg. */
  readonly installed: readonly string[];
  /** The upgrade: `dpkg --force-confold -i` in the oracle, buildPatchLayer for ocipatch. */
  readonly upgrade: readonly string[];
  /** Changes the root between the two (`root` is the chroot's directory). */
  readonly setup?: (root: string) => void;
}

export interface UpgradeOutcome {
  /** What dpkg printed while upgrading. */
  readonly dpkgLog: string;
  /** The root dpkg left. */
  readonly oracle: string;
  /** The patched image, unpacked. */
  readonly patched: string;
  readonly layer: PatchLayer;
  /** Every difference between the two: files (`path: kind`) and status records (`status: key`). */
  readonly differences: string[];
}

/** Files dpkg keeps for itself, and what a chroot run leaves, that the layer does not reproduce. */
const NOT_COMPARED = [
  /^(proc|dev|sys|run|tmp)\//,
  /^var\/(log|cache)\//,
  /^var\/lib\/dpkg\/(status|status-old|available|available-old|lock|lock-frontend|diversions-old)$/,
  /^var\/lib\/dpkg\/triggers\/(Lock|Unincorp)$/,
];

function statusRecords(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  for (const block of text.split(/\n\n+/)) {
    if (block.trim() === "") continue;
    const name = /^Package: (.*)$/m.exec(block)?.[1];
    const arch = /^Architecture: (.*)$/m.exec(block)?.[1];
    out.set(`${name}:${arch}`, `${block.trim()}\n`);
  }
  return out;
}

/** The root before the upgrade: the chroot with the old .debs installed and the scenario's changes. */
function baseRoot(s: UpgradeScenario): string {
  const base = join(s.work, "base");
  mkdirSync(base, { recursive: true });
  execFileSync("tar", ["-xf", chrootTarball("bookworm"), "-C", base, "--numeric-owner"]);
  if (s.installed.length > 0) dpkgInstall(base, s.installed, []);
  s.setup?.(base);
  return base;
}

/** `dpkg --force-confold -i` of the upgrade in a copy of `base`. */
function dpkgUpgrade(s: UpgradeScenario, base: string): { oracle: string; ok: boolean; output: string } {
  const oracle = join(s.work, "oracle");
  execFileSync("cp", ["-a", base, oracle]);
  return { oracle, ...dpkgRun(oracle, s.upgrade, ["--force-confold"]) };
}

/**
 * `base` as a one-layer OCI image (tag `base` of the layout `work/oci`), and buildPatchLayer's
 * layer for the scenario's upgrade on it, or what it threw.
 */
async function patchLayerFor(
  s: UpgradeScenario,
  base: string,
): Promise<{ layout: string; image: Image; layer: PatchLayer } | { error: unknown }> {
  const layout = join(s.work, "oci");
  const tar = join(s.work, "base.tar");
  execFileSync("tar", ["-C", base, "--numeric-owner", "-cf", tar, "."]);
  await newImageFromTar(layout, "base", tar, "2024-01-01T00:00:00Z", "dpkg-upgrade-oracle");
  rmSync(tar);

  const image = await openImage(`oci:${layout}:base`);
  const scratch = join(s.work, "scratch");
  mkdirSync(scratch);
  const fs = await LayeredFs.open(image, { scratchDir: scratch, ...backendViewOptions() });
  try {
    const inventory = await readInventoryFromFs(fs);
    const packages = s.upgrade.map((path): FetchedPackage => {
      const f = execFileSync("dpkg-deb", ["-f", path, "Package", "Architecture"], { encoding: "utf8" });
      const name = /^Package: (\S+)$/m.exec(f)![1]!;
      const arch = /^Architecture: (\S+)$/m.exec(f)![1]!;
      // the record it upgrades: of the same name and architecture, else of the same name (the new
      // version's architecture may differ: amd64 -> all)
      const installed =
        inventory.packages.find((p) => p.name === name && p.architecture === arch) ??
        inventory.packages.find((p) => p.name === name);
      return { package: name, architecture: arch, path, installed };
    });
    const layer = await buildPatchLayer({
      fs,
      inventory,
      packages,
      compression: "gzip",
      layerPath: join(s.work, "layer.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
    return { layout, image, layer };
  } catch (error) {
    return { error };
  } finally {
    await fs.close();
  }
}

/** Runs the scenario with real dpkg and with buildPatchLayer, and compares the two roots. */
export async function dpkgUpgradeOracle(s: UpgradeScenario): Promise<UpgradeOutcome> {
  const base = baseRoot(s);
  const { oracle, ok, output: dpkgLog } = dpkgUpgrade(s, base);
  if (!ok) throw new Error(`dpkg --force-confold -i failed:\n${dpkgLog}`);
  const built = await patchLayerFor(s, base);
  if ("error" in built) throw built.error;
  const { layout, image, layer } = built;
  const patched = await mutateImage(image, {
    append: [layer.layer],
    history: [{ created_by: "ocipatch test", comment: "patch layer" }],
  });
  await openSink(`oci:${layout}:patched`).write(patched);
  const { rootfs } = await unpackImage(`oci:${layout}:patched`, join(s.work, "patched"));

  const differences = diffRootfs(rootfs, oracle, NOT_COMPARED).map((d) => `${d.path}: ${d.kind}`);
  const a = statusRecords(rootfs);
  const b = statusRecords(oracle);
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) {
      differences.push(
        `status: ${k} ${a.has(k) ? (b.has(k) ? "differs" : "only in the patched image") : "only in dpkg's"}`,
      );
    }
  }
  return { dpkgLog, oracle, patched: rootfs, layer, differences };
}

export interface RefusalOutcome {
  /** Whether `dpkg --force-confold -i` succeeded, and what it printed. */
  readonly dpkgOk: boolean;
  readonly dpkgLog: string;
  /** The root dpkg left (its failed unpack rolled back). */
  readonly oracle: string;
  /** The image before the upgrade (`oci:<layout>:base`). */
  readonly layout: string;
  /** What buildPatchLayer threw; undefined when it built a layer. */
  readonly error: unknown;
}

/** Runs a scenario dpkg is expected to refuse: dpkg's answer and buildPatchLayer's. */
export async function dpkgUpgradeRefusal(s: UpgradeScenario): Promise<RefusalOutcome> {
  const base = baseRoot(s);
  const { oracle, ok: dpkgOk, output: dpkgLog } = dpkgUpgrade(s, base);
  const built = await patchLayerFor(s, base);
  const layout = join(s.work, "oci");
  return { dpkgOk, dpkgLog, oracle, layout, error: "error" in built ? built.error : undefined };
}
