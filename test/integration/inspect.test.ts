/**
 * `ocipatch inspect` against the harness registries and local media, checked against
 * skopeo (`inspect --raw`, `inspect --config --raw`) and the test images' own layouts.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { inspectImage } from "../../src/transport/inspect.js";
import { runCli } from "../harness/cli.js";
import { ensureImage, type TestImage } from "../harness/images.js";
import { type PushedImage, pushImage } from "../harness/push.js";
import {
  pushTestImage,
  randomLayer,
  run,
  sha256Hex,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");
const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };
let env: NodeJS.ProcessEnv;
const work: string[] = [];

let nginx: TestImage;
let multi: TestImage;
let nginxPushed: PushedImage;
let multiPushed: PushedImage;

beforeAll(async () => {
  const home = await tempDir("ocipatch-inspect-");
  work.push(home);
  env = {
    PATH: process.env["PATH"],
    HOME: home,
    XDG_RUNTIME_DIR: home,
    DOCKER_CONFIG: join(home, ".docker"),
  };
  nginx = await ensureImage("nginx-bookworm");
  multi = await ensureImage("multiarch-bookworm");
  nginxPushed = await pushImage(nginx, reg.host, `${uniqueRepo("inspect")}:nginx`);
  multiPushed = await pushImage(multi, reg.host, `${uniqueRepo("inspect")}:multi`);
});
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

async function skopeo(args: string[], ref: string): Promise<Buffer> {
  return (await run("skopeo", ["inspect", "--tls-verify=false", ...args, `docker://${ref}`])).stdout;
}

interface Inspection {
  name: string;
  digest: string;
  mediaType: string;
  kind: string;
  platforms?: { platform: string; digest: string; size: number }[];
  image: {
    digest: string;
    configDigest: string;
    layers: { digest: string; size: number; mediaType: string }[];
    config: {
      platform: string;
      created: string | null;
      cmd: string[] | null;
      entrypoint: string[] | null;
      envCount: number;
      labels: Record<string, string>;
      historyCount: number;
    };
  };
}

describe("ocipatch inspect", () => {
  it("describes a single image like its manifest and config say (checked with skopeo)", async () => {
    const r = await runCli(["inspect", "--format", "json", nginxPushed.ref], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Inspection;
    const manifest = JSON.parse((await skopeo(["--raw"], nginxPushed.ref)).toString()) as {
      config: { digest: string };
      layers: { digest: string; size: number; mediaType: string }[];
    };
    const config = JSON.parse((await skopeo(["--config", "--raw"], nginxPushed.ref)).toString()) as {
      created: string;
      architecture: string;
      config: { Cmd: string[]; Env: string[] };
      history: unknown[];
    };
    expect(doc.name).toBe(`docker://${nginxPushed.ref}`);
    expect(doc.kind).toBe("image");
    expect(doc.digest).toBe(nginxPushed.digest);
    expect(doc.platforms).toBeUndefined();
    expect(doc.image.configDigest).toBe(manifest.config.digest);
    expect(doc.image.layers).toEqual(
      manifest.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
    );
    expect(doc.image.layers).toHaveLength(nginx.layers);
    expect(doc.image.config).toMatchObject({
      platform: `linux/${config.architecture}`,
      created: config.created,
      cmd: config.config.Cmd,
      entrypoint: null,
      envCount: config.config.Env.length,
      historyCount: config.history.length,
    });
    expect(doc.image.config.cmd).toEqual(["nginx", "-g", "daemon off;"]);
  });

  it("lists an index's platforms and describes the host's image; --platform picks another", async () => {
    const raw = await skopeo(["--raw"], multiPushed.ref);
    const index = JSON.parse(raw.toString()) as {
      manifests: { digest: string; size: number; platform: { architecture: string } }[];
    };
    const r = await runCli(["inspect", "--format", "json", multiPushed.ref], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Inspection;
    expect(doc.kind).toBe("index");
    expect(doc.digest).toBe(multi.digest);
    expect(doc.platforms!.map((p) => p.platform)).toEqual(["linux/amd64", "linux/arm64/v8"]);
    expect(doc.platforms!.map((p) => p.digest)).toEqual(index.manifests.map((m) => m.digest));
    expect(doc.image.digest).toBe(index.manifests[0]!.digest); // this host is amd64
    const arm = JSON.parse(
      (await runCli(["inspect", "--format", "json", "--platform", "linux/arm64", multiPushed.ref], env))
        .stdout,
    ) as Inspection;
    expect(arm.image.digest).toBe(index.manifests[1]!.digest);
    expect(arm.image.config.platform).toBe("linux/arm64/v8");

    const text = await runCli(["inspect", multiPushed.ref], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Digest:       ${multi.digest}`);
    expect(text.stdout).toMatch(/Platforms: +2\n {2}linux\/amd64 +sha256:/);
    expect(text.stdout).toMatch(/Layers: +1 \(/);
  });

  it("--raw prints the manifest bytes exactly; --config the config bytes exactly", async () => {
    const raw = await runCli(["inspect", "--raw", multiPushed.ref], env);
    expect(`sha256:${sha256Hex(raw.stdoutBytes)}`).toBe(multi.digest);
    expect(raw.stdoutBytes.equals(await skopeo(["--raw"], multiPushed.ref))).toBe(true);
    const cfg = await runCli(["inspect", "--config", nginxPushed.ref], env);
    expect(cfg.stdoutBytes.equals(await skopeo(["--config", "--raw"], nginxPushed.ref))).toBe(true);
    const doc = JSON.parse(
      (await runCli(["inspect", "--format", "json", nginxPushed.ref], env)).stdout,
    ) as Inspection;
    expect(`sha256:${sha256Hex(cfg.stdoutBytes)}`).toBe(doc.image.configDigest);
  });

  it("reads OCI layouts and docker archives too", async () => {
    const oci = await inspectImage(nginx.ociRef);
    expect(oci.digest).toBe(nginx.digest);
    expect(oci.image.layers).toHaveLength(nginx.layers);
    const dir = await tempDir("ocipatch-inspect-");
    work.push(dir);
    const file = join(dir, "a.tar");
    expect((await runCli(["copy", "-q", nginxPushed.ref, `docker-archive:${file}:web:1`], env)).code).toBe(0);
    const r = await runCli(["inspect", "--format", "json", `docker-archive:${file}`], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Inspection;
    expect(doc.image.configDigest).toBe(oci.image.configDigest);
    expect(doc.image.layers.every((l) => l.mediaType.endsWith(".tar"))).toBe(true); // uncompressed in archives
  });

  it("uses --creds against the auth registry; a wrong password is one line naming it", async () => {
    const img = await pushTestImage(`${authReg.host}/${uniqueRepo("inspectauth")}:v1`, {
      layers: [randomLayer(1000)],
      auth,
    });
    const ok = await runCli(
      ["inspect", "--creds", `${auth.username}:${auth.password}`, "--format", "json", img.ref],
      env,
    );
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as Inspection).digest).toBe(img.digest);
    const bad = await runCli(["inspect", "--creds", `${auth.username}:wrong-pass-9`, img.ref], env);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(
      new RegExp(`^\\[error\\] authentication failed for registry ${authReg.host}\\b[^\\n]*\\n$`),
    );
    expect(bad.stderr).not.toContain("wrong-pass-9");
    const none = await runCli(["inspect", img.ref], env);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/authentication required for registry/);
  });

  it("usage errors exit 2 in one line", async () => {
    for (const args of [
      ["inspect"],
      ["inspect", "--raw", "--config", "x"],
      ["inspect", "--format", "xml", "x"],
    ]) {
      const r = await runCli(args, env);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^\[error\] /);
    }
  });
});
