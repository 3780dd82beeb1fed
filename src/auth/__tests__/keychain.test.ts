import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { authFilePaths, resolveCredentials } from "../keychain.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
let root: string;

async function authFile(path: string, user: string, pass: string, host = "reg.example:5000") {
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${pass}`) } } }));
  return path;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "ocipatch-keychain-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("resolveCredentials order", () => {
  it("explicit > environment > REGISTRY_AUTH_FILE > XDG auth.json > ~/.config auth.json > docker config", async () => {
    const home = join(root, "home");
    const xdg = join(root, "run");
    const docker = await authFile(join(home, ".docker/config.json"), "u", "docker");
    const cfg = await authFile(join(home, ".config/containers/auth.json"), "u", "config");
    const xdgFile = await authFile(join(xdg, "containers/auth.json"), "u", "xdg");
    const raf = await authFile(join(root, "raf.json"), "u", "raf");
    const env = {
      REGISTRY_AUTH_FILE: raf,
      XDG_RUNTIME_DIR: xdg,
      OCIPATCH_USERNAME: "u",
      OCIPATCH_PASSWORD: "env",
    };
    const pw = async (e: Record<string, string>, explicit?: boolean) => {
      const r = await resolveCredentials("reg.example:5000", {
        env: e,
        homeDir: home,
        ...(explicit ? { credentials: { username: "u", password: "flag" } } : {}),
      });
      return [r.credentials && "password" in r.credentials ? r.credentials.password : undefined, r.source];
    };
    expect(await pw(env, true)).toEqual(["flag", "explicit credentials"]);
    expect(await pw(env)).toEqual(["env", "OCIPATCH_USERNAME/OCIPATCH_PASSWORD"]);
    const { OCIPATCH_USERNAME: _u, OCIPATCH_PASSWORD: _p, ...files } = env;
    expect(await pw(files)).toEqual(["raf", raf]);
    const { REGISTRY_AUTH_FILE: _r, ...noRaf } = files;
    expect(await pw(noRaf)).toEqual(["xdg", xdgFile]);
    expect(await pw({})).toEqual(["config", cfg]);
    await rm(cfg);
    expect(await pw({})).toEqual(["docker", docker]);
    expect(await pw({ DOCKER_CONFIG: join(root, "nowhere") })).toEqual([undefined, "anonymous"]);
  });

  it("a file without an entry for the registry passes on to the next one", async () => {
    const home = join(root, "home2");
    await authFile(join(home, ".docker/config.json"), "u", "docker");
    const other = await authFile(join(root, "other.json"), "u", "x", "elsewhere.example");
    const r = await resolveCredentials("reg.example:5000", {
      env: { REGISTRY_AUTH_FILE: other },
      homeDir: home,
    });
    expect(r.source).toBe(join(home, ".docker/config.json"));
  });

  it("half of the environment pair is a usage error", async () => {
    try {
      await resolveCredentials("r", { env: { OCIPATCH_USERNAME: "u" }, homeDir: root });
      expect.unreachable();
    } catch (e) {
      expect(isOcipatchError(e, "USAGE")).toBe(true);
      expect((e as Error).message).toBe("OCIPATCH_USERNAME is set but OCIPATCH_PASSWORD is not");
    }
  });

  it("lists the files it consults", () => {
    expect(authFilePaths({ XDG_RUNTIME_DIR: "/run/user/0" }, "/home/u")).toEqual([
      "/run/user/0/containers/auth.json",
      "/home/u/.config/containers/auth.json",
      "/home/u/.docker/config.json",
    ]);
  });
});
