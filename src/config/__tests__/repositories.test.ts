import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configPath, loadAptConfig } from "../repositories.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ocipatch-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("config file", () => {
  it("finds the file: --config, then $OCIPATCH_CONFIG, then ~/.config/ocipatch/config.json", () => {
    expect(configPath({ path: "/a.json", env: { OCIPATCH_CONFIG: "/b.json" } })).toEqual({
      path: "/a.json",
      explicit: true,
    });
    expect(configPath({ env: { OCIPATCH_CONFIG: "/b.json", HOME: "/h" } })).toEqual({
      path: "/b.json",
      explicit: true,
    });
    expect(configPath({ env: { HOME: "/h" } })).toEqual({
      path: "/h/.config/ocipatch/config.json",
      explicit: false,
    });
    expect(configPath({ env: { HOME: "/h", XDG_CONFIG_HOME: "/x" } }).path).toBe("/x/ocipatch/config.json");
  });

  it("reads the apt section; flags override it", async () => {
    const f = join(dir, "c.json");
    await writeFile(
      f,
      JSON.stringify({
        registries: { ignored: true },
        apt: {
          mirror: "http://m.corp/debian",
          mirrors: { "http://deb.debian.org/debian-security": "http://m.corp/debian-security" },
          keyrings: ["/etc/ocipatch/a.gpg"],
          checkValidUntil: false,
        },
      }),
    );
    const c = await loadAptConfig({ path: f, keyrings: ["/k.asc"], mirror: "http://flag.corp/debian" });
    expect(c).toEqual({
      mirrors: {
        mirror: "http://flag.corp/debian",
        securityMirror: undefined,
        rewrites: { "http://deb.debian.org/debian-security": "http://m.corp/debian-security" },
      },
      keyrings: ["/etc/ocipatch/a.gpg", "/k.asc"],
      checkValidUntil: false,
      path: f,
    });
  });

  it("reads YAML files, also at the default location", async () => {
    const home = join(dir, "home");
    await mkdir(join(home, ".config", "ocipatch"), { recursive: true });
    const yaml = [
      "# air-gapped mirror",
      "apt:",
      "  mirrors:",
      '    "http://deb.debian.org/debian": http://m.corp/debian',
      "  keyrings:",
      "    - /etc/ocipatch/a.gpg",
      "  checkValidUntil: true",
      "",
    ].join("\n");
    await writeFile(join(home, ".config", "ocipatch", "config.yaml"), yaml);
    const c = await loadAptConfig({ env: { HOME: home } });
    expect(c.path).toBe(join(home, ".config", "ocipatch", "config.yaml"));
    expect(c.mirrors.rewrites).toEqual({ "http://deb.debian.org/debian": "http://m.corp/debian" });
    expect(c.keyrings).toEqual(["/etc/ocipatch/a.gpg"]);
    expect(c.checkValidUntil).toBe(true);
    const bad = join(dir, "bad.yml");
    await writeFile(bad, "apt: [unclosed");
    await expect(loadAptConfig({ path: bad })).rejects.toThrow(/is not valid YAML/);
  });

  it("a missing default file is fine; a missing explicit file, bad JSON or bad values are errors", async () => {
    const c = await loadAptConfig({ env: { HOME: dir } });
    expect(c.path).toBeUndefined();
    expect(c.mirrors.mirror).toBeUndefined();
    await expect(loadAptConfig({ path: join(dir, "nope.json") })).rejects.toMatchObject({ code: "IO" });
    const bad = join(dir, "bad.json");
    await writeFile(bad, "{");
    await expect(loadAptConfig({ path: bad })).rejects.toThrow(/not valid JSON/);
    await writeFile(bad, JSON.stringify({ apt: { mirror: "not a url" } }));
    await expect(loadAptConfig({ path: bad })).rejects.toThrow(/apt\.mirror/);
    await writeFile(bad, JSON.stringify({ apt: { mirorr: "http://x" } }));
    await expect(loadAptConfig({ path: bad })).rejects.toThrow(/mirorr/);
    await expect(loadAptConfig({ env: { HOME: dir }, mirror: "nope" })).rejects.toMatchObject({
      code: "USAGE",
    });
  });
});
