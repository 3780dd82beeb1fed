/**
 * The bundled CLI (dist/cli-bundle/main.cjs, scripts/bundle-cli.mjs) and its V8 code cache
 * (src/cli/code-cache.ts, bin/ocipatch): every command runs from the bundle, a run of a command
 * leaves the compiled code for the next run of it, and a cache that is not this bundle's, not
 * V8's, or not safely owned is never used.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO_ROOT, runBin } from "../harness/cli.js";
import { ensureImage, type TestImage } from "../harness/images.js";

const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

/** An installed copy of the CLI: bin/, dist/ without its code caches, node_modules linked. */
function install(): { root: string; bundle: string; cacheDir: string } {
  const root = mkdtempSync(join(tmpdir(), "ocipatch-startup-"));
  mkdirSync(join(root, "bin"));
  copyFileSync(join(REPO_ROOT, "bin/ocipatch"), join(root, "bin/ocipatch"));
  const caches = join(REPO_ROOT, "dist/cli-bundle/code-cache");
  cpSync(join(REPO_ROOT, "dist"), join(root, "dist"), { recursive: true, filter: (f) => f !== caches });
  writeFileSync(join(root, "package.json"), '{"type":"module"}');
  symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"));
  return {
    root,
    bundle: join(root, "dist/cli-bundle/main.cjs"),
    cacheDir: join(root, "dist/cli-bundle/code-cache"),
  };
}

const installs: string[] = [];
function fresh(): ReturnType<typeof install> {
  const i = install();
  installs.push(i.root);
  return i;
}

function ocipatch(root: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(root, "bin/ocipatch"), ...args], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * loadBundle in a child process: the cache state, the command names the bundle exports (so it
 * ran), and whether `save` wrote.
 */
function load(
  bundle: string,
  command: string | undefined,
  env: NodeJS.ProcessEnv = {},
  commands = ["inspect"],
) {
  const script = `
    import { loadBundle } from ${JSON.stringify(join(REPO_ROOT, "dist/cli/code-cache.js"))};
    const b = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(command === undefined ? [] : [command])});
    const names = b.exports.COMMAND_NAMES;
    process.stdout.write(JSON.stringify({ cache: b.cache, names, saved: b.save(${JSON.stringify(commands)}) }));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as { cache: string; names: string[]; saved: boolean };
}

const cacheFiles = (dir: string): string[] => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

let bookworm: TestImage;

beforeAll(async () => {
  await ensureBuilt();
  bookworm = await ensureImage("debian-bookworm");
}, 1_800_000);

afterAll(() => {
  for (const r of installs) rmSync(r, { recursive: true, force: true });
});

describe("bundled CLI", () => {
  it("prints the package's version", async () => {
    const r = await runBin(["--version"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout.trim()).toBe(version);
  });

  it("every command loads from the bundle (its --help runs)", async () => {
    for (const cmd of ["patch", "scan", "sbom", "db", "copy", "inspect"]) {
      const r = await runBin([cmd, "--help"]);
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: "" });
      expect(r.stdout).toContain(`Usage: ocipatch ${cmd}`);
    }
  });
});

describe("code cache (bin/ocipatch)", () => {
  it("a successful run of a command leaves its cache; the next run of it uses it and writes nothing", () => {
    const { root, cacheDir } = fresh();
    const first = ocipatch(root, ["inspect", bookworm.ociRef]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    const files = cacheFiles(cacheDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(
      new RegExp(
        `^main\\.cjs-[0-9a-f]{16}-${process.version}-${process.platform}-${process.arch}\\.inspect\\.v8cache$`,
      ),
    );
    const file = join(cacheDir, files[0]!);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const before = readFileSync(file);
    const mtime = statSync(file).mtimeMs;

    const second = ocipatch(root, ["inspect", bookworm.ociRef]);
    expect(second).toEqual(first);
    expect(cacheFiles(cacheDir)).toEqual(files);
    expect(statSync(file).mtimeMs).toBe(mtime);
    expect(readFileSync(file).equals(before)).toBe(true);

    // the program alone (--version) has a cache of its own
    expect(ocipatch(root, ["--version"])).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(cacheFiles(cacheDir)).toHaveLength(2);
    expect(cacheFiles(cacheDir).some((f) => f.endsWith(".main.v8cache"))).toBe(true);
  });

  it("no cache from a help run, a failed run, an unknown word or OCIPATCH_CODE_CACHE=off", () => {
    const { root, cacheDir } = fresh();
    expect(ocipatch(root, ["patch", "--help"])).toMatchObject({ code: 0, stderr: "" });
    expect(ocipatch(root, ["inspect", "oci:/nonexistent/layout:x"]).code).not.toBe(0);
    expect(ocipatch(root, ["nosuchcommand"]).code).not.toBe(0);
    expect(ocipatch(root, ["inspect", bookworm.ociRef], { OCIPATCH_CODE_CACHE: "off" }).code).toBe(0);
    expect(cacheFiles(cacheDir)).toEqual([]);
  });

  it("a read-only place for the cache only costs the cache", () => {
    const { root, cacheDir } = fresh();
    writeFileSync(cacheDir, "not a directory"); // mkdir fails as on a read-only install
    const r = ocipatch(root, ["inspect", bookworm.ociRef]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toContain(bookworm.digest);
    expect(readFileSync(cacheDir, "utf8")).toBe("not a directory");
  });
});

describe("code cache (loadBundle)", () => {
  it("absent, then accepted; a corrupt cache is rejected and written again; the code runs either way", () => {
    const { bundle, cacheDir } = fresh();
    const a = load(bundle, "inspect");
    expect(a).toMatchObject({ cache: "absent", saved: true });
    expect(a.names).toEqual(["patch", "scan", "sbom", "db", "copy", "inspect"]);
    expect(load(bundle, "inspect")).toMatchObject({ cache: "accepted", saved: false });

    const [name] = cacheFiles(cacheDir);
    const file = join(cacheDir, name!);
    const data = readFileSync(file);
    // the header words after V8's magic number: its version, the source's and the flags' hashes
    data.fill(0x5a, 4, 16);
    writeFileSync(file, data, { mode: 0o644 });
    expect(load(bundle, "inspect")).toMatchObject({ cache: "rejected", saved: true });
    expect(load(bundle, "inspect")).toMatchObject({ cache: "accepted", saved: false });
  });

  it("a cache of another bundle content is not used, even at the same length", () => {
    const { bundle, cacheDir } = fresh();
    expect(load(bundle, "inspect").saved).toBe(true);
    const [before] = cacheFiles(cacheDir);
    const src = readFileSync(bundle, "utf8");
    // the same length (all V8 checks of the source), other content
    const changed = src.replaceAll("__ocipatchModuleUrl", "__ocipatchModuleUrX");
    expect(changed.length).toBe(src.length);
    writeFileSync(bundle, changed);
    expect(load(bundle, "inspect")).toMatchObject({ cache: "absent", saved: true });
    expect(cacheFiles(cacheDir)).toHaveLength(2);
    expect(cacheFiles(cacheDir)).toContain(before);
  });

  it("a cache file others may write, or for a word that is no command, is not used or written", () => {
    const { bundle, cacheDir } = fresh();
    expect(load(bundle, "inspect").saved).toBe(true);
    const file = join(cacheDir, cacheFiles(cacheDir)[0]!);
    chmodSync(file, 0o666);
    expect(load(bundle, "inspect").cache).toBe("absent");
    chmodSync(file, 0o644);
    expect(load(bundle, "inspect").cache).toBe("accepted");

    expect(load(bundle, "inspectx")).toMatchObject({ cache: "absent", saved: false });
    expect(load(bundle, "../x")).toMatchObject({ cache: "off", saved: false });
    expect(load(bundle, "inspect", { OCIPATCH_CODE_CACHE: "off" })).toMatchObject({
      cache: "off",
      saved: false,
    });
    expect(cacheFiles(cacheDir)).toHaveLength(1);
  });
});
