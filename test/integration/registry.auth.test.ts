import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { exitCodeFor, isOcipatchError, oneLine } from "../../src/errors.js";
import type { Image } from "../../src/image/image.js";
import { openRegistryImage, type RegistryOptions, registrySink } from "../../src/transport/registry/index.js";
import { basicAuthField, writeCredentialHelper, writeJson } from "../harness/credentials.js";
import {
  type PushedImage,
  pushTestImage,
  skopeoInspectRaw,
  tempDir,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const authReg = inject("authRegistry");
const auth = { username: authReg.username, password: authReg.password };
const WRONG = "Wr0ng-Pa55word-xyz";

let image: PushedImage;
const dirs: string[] = [];
async function home(): Promise<string> {
  const d = await tempDir("ocipatch-home-");
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  image = await pushTestImage(`${authReg.host}/${uniqueRepo("auth")}:v1`, { auth });
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Options with nothing from this machine: an empty home and only the given environment. */
async function isolated(env: Record<string, string> = {}, homeDir?: string): Promise<RegistryOptions> {
  return {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
    homeDir: homeDir ?? (await home()),
  };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

async function canRead(opts: RegistryOptions): Promise<void> {
  const img = (await openRegistryImage(image.ref, opts)) as Image;
  expect(img.digest).toBe(image.digest);
  expect((await img.configFile()).architecture).toBe("amd64");
}

describe("htpasswd registry", () => {
  it("reads and writes with explicit credentials; skopeo reads what was written", async () => {
    const opts = { ...(await isolated()), credentials: auth };
    await canRead(opts);
    const dest = `${authReg.host}/${uniqueRepo("authw")}:v1`;
    const r = await registrySink(dest, opts).write(await openRegistryImage(image.ref, opts));
    expect(r.digest).toBe(image.digest);
    expect((await skopeoInspectRaw(dest, auth)).equals(image.manifest)).toBe(true);
  });

  it("a wrong password is AUTH_FAILED naming the registry, never showing the password", async () => {
    const opts = { ...(await isolated()), credentials: { username: auth.username, password: WRONG } };
    const source = await openRegistryImage(image.ref, { credentials: auth });
    for (const attempt of [
      () => openRegistryImage(image.ref, opts),
      () => registrySink(`${authReg.host}/${uniqueRepo("authw")}:v1`, opts).write(source),
    ]) {
      const e = await rejection(attempt());
      expect(exitCodeFor(e)).toBe(4);
      expect(isOcipatchError(e, "AUTH_FAILED")).toBe(true);
      expect(e.message).toBe(
        `authentication failed for registry ${authReg.host} (HTTP 401): check username and password (credentials from explicit credentials)`,
      );
      expect(oneLine(e)).toBe(e.message);
      const everything = JSON.stringify({
        m: e.message,
        s: e.stack,
        d: (e as { details?: unknown }).details,
      });
      expect(everything).not.toContain(WRONG);
      expect(everything).not.toContain(basicAuthField(auth.username, WRONG));
    }
  });

  it("no credentials is AUTH_FAILED saying that authentication is required", async () => {
    const e = await rejection(openRegistryImage(image.ref, await isolated()));
    expect(isOcipatchError(e, "AUTH_FAILED")).toBe(true);
    expect(e.message).toBe(
      `authentication required for registry ${authReg.host} (HTTP 401): no credentials found; pass a username and password or log in`,
    );
  });

  it("takes credentials from OCIPATCH_USERNAME/OCIPATCH_PASSWORD", async () => {
    await canRead(await isolated({ OCIPATCH_USERNAME: auth.username, OCIPATCH_PASSWORD: auth.password }));
  });

  it("takes credentials from ~/.docker/config.json auths (base64 auth)", async () => {
    const h = await home();
    await writeJson(join(h, ".docker", "config.json"), {
      auths: { [authReg.host]: { auth: basicAuthField(auth.username, auth.password) } },
    });
    await canRead(await isolated({}, h));
  });

  it("takes credentials from $DOCKER_CONFIG/config.json (username/password fields, URL key)", async () => {
    const dir = await home();
    await writeJson(join(dir, "config.json"), {
      auths: { [`https://${authReg.host}/v2/`]: { username: auth.username, password: auth.password } },
    });
    await canRead(await isolated({ DOCKER_CONFIG: dir }));
  });

  it("asks a credHelpers helper, passing the registry host on stdin", async () => {
    const helper = await writeCredentialHelper({
      name: "ocitest",
      server: authReg.host,
      username: auth.username,
      secret: auth.password,
    });
    dirs.push(helper.binDir);
    const h = await home();
    await writeJson(join(h, ".docker", "config.json"), {
      auths: { [authReg.host]: {} },
      credHelpers: { [authReg.host]: "ocitest" },
    });
    await canRead(await isolated({ PATH: `${helper.binDir}:${process.env["PATH"]}` }, h));
    expect((await readFile(helper.log, "utf8")).trim().split("\n")).toEqual([authReg.host]);
  });

  it("asks the credsStore helper", async () => {
    const helper = await writeCredentialHelper({
      name: "ocistore",
      server: authReg.host,
      username: auth.username,
      secret: auth.password,
    });
    dirs.push(helper.binDir);
    const h = await home();
    await writeJson(join(h, ".docker", "config.json"), { credsStore: "ocistore" });
    await canRead(await isolated({ PATH: `${helper.binDir}:${process.env["PATH"]}` }, h));
  });

  it("a configured helper missing from PATH is a clear error", async () => {
    const h = await home();
    await writeJson(join(h, ".docker", "config.json"), { credHelpers: { [authReg.host]: "missing-helper" } });
    const e = await rejection(openRegistryImage(image.ref, await isolated({}, h)));
    expect(isOcipatchError(e, "AUTH_FAILED")).toBe(true);
    expect(e.message).toBe(
      "credential helper docker-credential-missing-helper is configured but not found on PATH",
    );
  });

  it("takes credentials from $REGISTRY_AUTH_FILE, before the docker config", async () => {
    const h = await home();
    const authFile = await writeJson(join(h, "auth.json"), {
      auths: { [authReg.host]: { auth: basicAuthField(auth.username, auth.password) } },
    });
    await canRead(await isolated({ REGISTRY_AUTH_FILE: authFile }, h));
    // a wrong password there wins over a right one in ~/.docker/config.json, and is named
    const bad = await writeJson(join(h, "bad.json"), {
      auths: { [authReg.host]: { auth: basicAuthField(auth.username, WRONG) } },
    });
    await writeJson(join(h, ".docker", "config.json"), {
      auths: { [authReg.host]: { auth: basicAuthField(auth.username, auth.password) } },
    });
    const e = await rejection(openRegistryImage(image.ref, await isolated({ REGISTRY_AUTH_FILE: bad }, h)));
    expect(e.message).toContain(`(credentials from ${bad})`);
    expect(e.message).not.toContain(WRONG);
  });

  it("takes credentials from $XDG_RUNTIME_DIR/containers/auth.json", async () => {
    const run = await home();
    await writeJson(join(run, "containers", "auth.json"), {
      auths: { [authReg.host]: { auth: basicAuthField(auth.username, auth.password) } },
    });
    await canRead(await isolated({ XDG_RUNTIME_DIR: run }));
  });
});
