/**
 * `ocipatch copy` end to end against the harness's real registries (anonymous and
 * htpasswd), with skopeo and umoci as independent oracles: digests are kept
 * registry→registry for images and indexes, what ocipatch writes is read by skopeo
 * and umoci, what skopeo pushed is read by ocipatch, corruption and bad input fail in
 * one line without writing anything.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { copyImage } from "../../src/transport/copy.js";
import { ensureBuilt, runBin, runCli, spawnBin } from "../harness/cli.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { type PushedImage, pushImage } from "../harness/push.js";
import { registryBlobPath, type TestRegistry } from "../harness/registry.js";
import {
  pushTestImage,
  randomLayer,
  run,
  sha256Hex,
  skopeoCopy,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };
const destCreds = `${auth.username}:${auth.password}`;
/** An environment with no stray credentials (no docker config, no OCIPATCH_* variables). */
let env: NodeJS.ProcessEnv;

const work: string[] = [];
async function scratch(): Promise<string> {
  const d = await tempDir("ocipatch-copy-");
  work.push(d);
  return d;
}

let nginx: TestImage;
let multi: TestImage;
let nginxPushed: PushedImage;
let multiPushed: PushedImage;

beforeAll(async () => {
  const home = await scratch();
  env = {
    PATH: process.env["PATH"],
    HOME: home,
    XDG_RUNTIME_DIR: home,
    DOCKER_CONFIG: join(home, ".docker"),
  };
  nginx = await ensureImage("nginx-bookworm");
  multi = await ensureImage("multiarch-bookworm");
  nginxPushed = await pushImage(nginx, reg.host, `${uniqueRepo("copysrc")}:nginx`);
  multiPushed = await pushImage(multi, reg.host, `${uniqueRepo("copysrc")}:multi`);
});
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

function sha(b: Buffer): string {
  return `sha256:${sha256Hex(b)}`;
}

/** The single line of an error on stderr. */
function errorLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l !== "" && !l.startsWith("[info]"));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

interface JsonResult {
  digest: string;
  mediaType: string;
  location: string;
  platforms: string[];
  stats: { blobsUploaded: number; bytesUploaded: number; blobsMounted: number; blobsSkipped: number };
}

describe("ocipatch copy registry → registry", () => {
  it("keeps a single image's digest and mounts its blobs within one registry", async () => {
    const dest = `${reg.host}/${uniqueRepo("copydst")}:v1`;
    const r = await runCli(["copy", "--format", "json", nginxPushed.ref, `docker://${dest}`], env);
    expect(r.stderr).not.toContain("[error]");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as JsonResult;
    expect(out.digest).toBe(nginxPushed.digest);
    expect(out.location).toBe(`${dest}@${nginxPushed.digest}`);
    // every blob (config + 2 layers) came by cross-repository mount, none uploaded
    expect(out.stats).toEqual({ blobsUploaded: 0, bytesUploaded: 0, blobsMounted: 3, blobsSkipped: 0 });
    expect(r.stderr).toMatch(/\[success\] Copied to /);
    expect(sha(await skopeoInspectRaw(dest))).toBe(nginxPushed.digest);
  });

  it("copies a whole index (every platform) into another registry with --dest-creds, digest unchanged", async () => {
    const dest = `${authReg.host}/${uniqueRepo("copydst")}:multi`;
    const r = await runCli(
      ["copy", "--format", "json", "--dest-creds", destCreds, multiPushed.ref, dest],
      env,
    );
    expect(r.stderr).not.toContain("[error]");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as JsonResult;
    expect(out.digest).toBe(multi.digest);
    expect(out.platforms).toEqual(["linux/amd64", "linux/arm64/v8"]);
    expect(out.stats.blobsUploaded).toBe(4); // 2 configs + 2 layers really moved
    expect(out.stats.blobsMounted).toBe(0);
    expect(sha(await skopeoInspectRaw(dest, auth))).toBe(multi.digest);
    // skopeo pulls every platform (verifying each blob) from what ocipatch wrote
    const dir = await scratch();
    await skopeoCopy(`docker://${dest}`, `oci:${dir}/l:x`, {
      srcAuth: auth,
      args: ["--all", "--preserve-digests"],
    });
    const index = JSON.parse(readFileSync(join(dir, "l/index.json"), "utf8")) as {
      manifests: { digest: string }[];
    };
    expect(index.manifests[0]!.digest).toBe(multi.digest);
  });

  it("--platform copies one image out of an index: the child's manifest, digest unchanged", async () => {
    const index = JSON.parse((await skopeoInspectRaw(multiPushed.ref)).toString("utf8")) as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const arm = index.manifests.find((m) => m.platform.architecture === "arm64")!;
    const dest = `${authReg.host}/${uniqueRepo("copydst")}:arm`;
    const r = await runCli(
      [
        "copy",
        "-q",
        "--platform",
        "linux/arm64",
        "--dest-creds",
        destCreds,
        "--format",
        "json",
        multiPushed.ref,
        dest,
      ],
      env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout) as JsonResult;
    expect(out.digest).toBe(arm.digest);
    expect(out.platforms).toEqual(["linux/arm64/v8"]);
    expect(sha(await skopeoInspectRaw(dest, auth))).toBe(arm.digest);
  });

  it("reads with --src-creds from the auth registry (what skopeo pushed there)", async () => {
    const src = await pushTestImage(`${authReg.host}/${uniqueRepo("copyauth")}:v1`, {
      layers: [randomLayer(5000, "x.bin")],
      auth,
    });
    const dest = `${reg.host}/${uniqueRepo("copydst")}:v1`;
    const r = await runCli(["copy", "-q", "--src-creds", destCreds, src.ref, dest], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(sha(await skopeoInspectRaw(dest))).toBe(src.digest);
  });
});

describe("ocipatch copy to and from local media", () => {
  it("registry → oci: umoci unpacks the layout and skopeo copies it back with the same digest", async () => {
    const dir = await scratch();
    const layout = join(dir, "layout");
    const r = await runCli(["copy", "-q", nginxPushed.ref, `oci:${layout}:web`], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    await run("umoci", ["unpack", "--rootless", "--image", `${layout}:web`, join(dir, "bundle")]);
    expect(existsSync(join(dir, "bundle/rootfs/usr/sbin/nginx"))).toBe(true);
    const back = `${reg.host}/${uniqueRepo("copyback")}:v1`;
    await skopeoCopy(`oci:${layout}:web`, `docker://${back}`, { args: ["--preserve-digests"] });
    expect(sha(await skopeoInspectRaw(back))).toBe(nginxPushed.digest);
  });

  it("registry → oci: into an empty tmpfs mount point (skopeo succeeds there too), the mount kept", async () => {
    const dir = await scratch();
    const mnt = join(dir, "mnt");
    await run("mkdir", [mnt]);
    await run("mount", ["-t", "tmpfs", "tmpfs", mnt]);
    try {
      const r = await runCli(["copy", "-q", nginxPushed.ref, `oci:${mnt}:x`], env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const raw = await run("skopeo", ["inspect", "--raw", `oci:${mnt}:x`]);
      expect(sha(raw.stdout)).toBe(nginxPushed.digest);
      expect(readdirSync(mnt).sort()).toEqual(["blobs", "index.json", "oci-layout"]);
    } finally {
      await run("umount", [mnt]);
    }
  });

  it("registry → oci keeps a whole index; skopeo copies every platform out of it", async () => {
    const dir = await scratch();
    const r = await runCli(["copy", "-q", multiPushed.ref, `oci:${dir}/l:multi`], env);
    expect(r.code).toBe(0);
    const back = `${reg.host}/${uniqueRepo("copyback")}:multi`;
    await skopeoCopy(`oci:${dir}/l:multi`, `docker://${back}`, { args: ["--all", "--preserve-digests"] });
    expect(sha(await skopeoInspectRaw(back))).toBe(multi.digest);
  });

  it("registry → docker-archive: skopeo reads the archive (host platform picked from an index)", async () => {
    const dir = await scratch();
    const file = join(dir, "img.tar");
    const r = await runCli(["copy", multiPushed.ref, `docker-archive:${file}:example/multi:1`], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("a docker archive holds one image: copying linux/amd64");
    const pulled = await scratch();
    await skopeoCopy(`docker-archive:${file}`, `oci:${pulled}:x`);
    await run("umoci", ["unpack", "--rootless", "--image", `${pulled}:x`, join(pulled, "bundle")]);
    expect(existsSync(join(pulled, "bundle/rootfs/etc/debian_version"))).toBe(true);
    const inspected = JSON.parse(
      (await run("skopeo", ["inspect", `docker-archive:${file}`])).stdout.toString(),
    ) as {
      RepoTags: string[];
      Architecture: string;
    };
    expect(inspected.Architecture).toBe("amd64");
  });

  it("oci → registry (ocipatch pushes, skopeo reads): same digest, skopeo pulls every blob", async () => {
    const dest = `${authReg.host}/${uniqueRepo("copypush")}:nginx`;
    const r = await runCli(["copy", "-q", "--dest-creds", destCreds, nginx.ociRef, dest], env);
    expect(r.code).toBe(0);
    expect(sha(await skopeoInspectRaw(dest, auth))).toBe(nginx.digest);
    const dir = await scratch();
    await skopeoCopy(`docker://${dest}`, `oci:${dir}:x`, { srcAuth: auth });
  });

  it("the library function gives the same result as the CLI", async () => {
    const dir = await scratch();
    const result = await copyImage(nginxPushed.ref, `oci:${dir}/l:t`, { src: { env } });
    expect(result.digest).toBe(nginxPushed.digest);
    expect(result.source).toBe(`docker://${nginxPushed.ref}`);
    expect(result.stats.blobsUploaded).toBe(4); // config, 2 layers and the manifest
  });
});

describe("ocipatch copy failures", () => {
  async function tamperedImage(): Promise<{ ref: string; blob: string }> {
    const img = await pushTestImage(`${reg.host}/${uniqueRepo("tamper")}:v1`, {
      layers: [randomLayer(20_000, "t.bin")],
    });
    const manifest = JSON.parse(img.manifest.toString("utf8")) as { layers: { digest: string }[] };
    const blob = manifest.layers[0]!.digest;
    // same size, different bytes: only the digest check can notice
    const fh = await open(registryBlobPath(reg as unknown as TestRegistry, blob), "r+");
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, 100);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, 100);
    } finally {
      await fh.close();
    }
    return { ref: img.ref, blob };
  }

  it("a tampered blob: the copy fails, no OCI layout is written, the destination tag does not move", async () => {
    const { ref, blob } = await tamperedImage();
    const dir = await scratch();
    const target = join(dir, "out");
    const toOci = await runCli(["copy", "-q", ref, `oci:${target}:t`], env);
    expect(toOci.code).toBe(6);
    expect(errorLine(toOci.stderr)).toMatch(new RegExp(`^\\[error\\] .*${blob}.*`));
    expect(toOci.stderr).toMatch(/digest|does not match/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);

    // the destination tag points at something else before; it still does afterwards
    const dest = `${authReg.host}/${uniqueRepo("tamperdst")}:v1`;
    const before = await pushTestImage(dest, { layers: [randomLayer(1000, "ok.bin")], auth });
    const toReg = await runCli(["copy", "-q", "--dest-creds", destCreds, ref, dest], env);
    expect(toReg.code).toBe(6);
    expect(errorLine(toReg.stderr)).toContain(blob);
    expect(sha(await skopeoInspectRaw(dest, auth))).toBe(before.digest);
  });

  it("a wrong password: one line naming the registry, exit 4, the password nowhere (not even with --debug)", async () => {
    const secret = "not-the-Secret-7731";
    for (const debug of [[], ["--debug"]]) {
      const r = await runCli(
        [
          "copy",
          ...debug,
          "--dest-creds",
          `${auth.username}:${secret}`,
          nginxPushed.ref,
          `${authReg.host}/x/y:z`,
        ],
        env,
      );
      expect(r.code).toBe(4);
      const first = r.stderr.split("\n").find((l) => l.startsWith("[error]"))!;
      expect(first).toContain(`authentication failed for registry ${authReg.host}`);
      if (debug.length === 0) expect(errorLine(r.stderr)).toBe(first);
      expect(r.stdout + r.stderr).not.toContain(secret);
    }
    // also when the source side is wrong, and when a flag is misspelled
    const src = await runCli(["inspect", "--creds", `u:${secret}`, `${authReg.host}/x/y:z`], env);
    expect(src.code).toBe(4);
    expect(src.stdout + src.stderr).not.toContain(secret);
    const typo = await runCli(["copy", `--dest-cred=u:${secret}`, "a", "b"], env);
    expect(typo.code).toBe(2);
    expect(errorLine(typo.stderr)).toContain("unknown option");
    expect(typo.stdout + typo.stderr).not.toContain(secret);
  });

  it("bad input: one line, the exit code of its class, nothing written", async () => {
    const dir = await scratch();
    const out = `oci:${join(dir, "o")}`;
    const cases: [string[], number, RegExp][] = [
      [["copy", "Bad/UPPER:case", out], 2, /invalid image reference "Bad\/UPPER:case"/],
      [["copy", "ftp://host/x", out], 2, /unknown transport "ftp"/],
      [
        ["copy", "oci-archive:/nonexistent/x.tar", out],
        3,
        /OCI archive \/nonexistent\/x\.tar does not exist/,
      ],
      [
        ["copy", `${reg.host}/does/not-exist:v1`, out],
        3,
        new RegExp(`${reg.host}/does/not-exist:v1 not found`),
      ],
      [["copy", "127.0.0.1:1/x:y", out], 5, /cannot connect to registry 127\.0\.0\.1:1: connection refused/],
      [["copy", "--platform", "linux", nginxPushed.ref, out], 2, /invalid platform "linux"/],
      [["copy", "--platform", "linux/s390x", multiPushed.ref, out], 3, /no image for platform linux\/s390x/],
      // a single-manifest amd64 image is not an arm64 one (issue 15: it used to be copied, exit 0)
      [
        ["copy", "--platform", "linux/arm64", nginxPushed.ref, out],
        3,
        /is a single linux\/amd64 image, not linux\/arm64$/,
      ],
      [["copy", "--dest-creds", "nopassword", nginxPushed.ref, out], 2, /--dest-creds needs USER:PASSWORD/],
      [["copy", "--format", "yaml", nginxPushed.ref, out], 2, /--format must be text or json/],
      [["copy", nginxPushed.ref], 2, /missing required argument 'DST'/],
      // not a tag (skopeo: "Invalid image bad tag"): refused, no directory named "o:bad tag"
      [["copy", nginxPushed.ref, `${out}:bad tag`], 2, /invalid tag "bad tag"/],
      [["copy", nginxPushed.ref, `oci-archive:${join(dir, "o.tar")}:-x`], 2, /invalid tag "-x"/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args, env);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(errorLine(r.stderr)).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).toBe("");
    }
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("bin/ocipatch as a child process", () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 300_000);

  it("copies and reports JSON on stdout, progress on stderr", async () => {
    const dir = await scratch();
    const r = await runBin(["copy", "--format", "json", nginxPushed.ref, `oci:${dir}/l:t`], env);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as JsonResult).digest).toBe(nginxPushed.digest);
    expect(r.stderr).toMatch(/^\[info\] Copying /);
  });

  it("a reader that goes away early (| head) ends quietly: no EPIPE stack trace, exit 0", async () => {
    const child = spawnBin(["inspect", "--format", "json", multiPushed.ref], env);
    child.stdout!.destroy(); // the reading end is closed before ocipatch writes
    const err: Buffer[] = [];
    child.stderr!.on("data", (c: Buffer) => err.push(c));
    const code = await new Promise<number | null>((res) => child.on("close", res));
    expect(Buffer.concat(err).toString()).toBe("");
    expect(code).toBe(0);
  });

  it("errors are one line with the exit code of their class; --debug adds the stack", async () => {
    const r = await runBin(["inspect", "127.0.0.1:1/x:y"], env);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe("[error] cannot connect to registry 127.0.0.1:1: connection refused\n");
    const d = await runBin(["inspect", "--debug", "127.0.0.1:1/x:y"], env);
    expect(d.code).toBe(5);
    expect(d.stderr).toMatch(/\n\s+at /);
    const usage = await runBin(["copy"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split("\n")).toHaveLength(1);
  });
});
