/**
 * Fleet patching (copa's PatchConfig through `ocipatch patch --config FILE --push`): tag
 * listing with `Link` pagination and auth against the real docker-registry, a config of several
 * images patched by the worker pool with one failing entry, and N shards run as N processes
 * that together patch every image exactly once. skopeo and the registry's log are the oracles.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FleetImageResult } from "../../src/fleet/summary.js";
import { listTags } from "../../src/transport/registry/tags.js";
import { ensureBuilt, runBin } from "../harness/cli.js";
import { run } from "../harness/exec.js";
import { PASS, startFaultProxy } from "../harness/fault-proxy.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { OCIPATCH_CACHE, runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";

const anon = inject("registry");
const authReg = inject("authRegistry");

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}
afterAll(async () => {
  for (const d of work) await rm(d, { recursive: true, force: true });
});

const unique = (name: string) =>
  `fleet/${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function skopeoTags(repo: string, creds?: string): Promise<string[]> {
  const args = ["list-tags", "--tls-verify=false", ...(creds ? ["--creds", creds] : []), `docker://${repo}`];
  return (JSON.parse((await run("skopeo", args)).stdout) as { Tags: string[] }).Tags;
}

async function skopeoInspect(
  ref: string,
): Promise<{ Digest: string; Layers: string[]; Labels: Record<string, string> | null }> {
  return JSON.parse((await run("skopeo", ["inspect", "--tls-verify=false", `docker://${ref}`])).stdout);
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, "fleet.yaml");
  writeFileSync(file, yaml);
  return file;
}

describe("registry tag listing", () => {
  it("follows Link pagination and returns what skopeo lists", async () => {
    const repo = unique("tags");
    const image = await ensureImage("debian-bookworm");
    const tags = ["1.0", "1.1", "2.0", "b", "a", "latest", "1.10"];
    for (const t of tags) await pushImage(image, anon.host, `${repo}:${t}`);
    const real = await skopeoTags(`${anon.host}/${repo}`);
    expect([...real].sort()).toEqual([...tags].sort());
    expect(await listTags(`${anon.host}/${repo}`)).toEqual(real);
    // Debian's docker-registry (distribution 2.8) answers the whole list at once; a proxy in
    // front pages the registry's own list as the distribution spec says (`n`, `last`, `Link`)
    const proxy = await startFaultProxy(anon.host, (req) => {
      const url = new URL(req.url ?? "/", "http://x");
      if (!url.pathname.endsWith("/tags/list")) return PASS;
      const n = Number(url.searchParams.get("n") ?? "1000");
      const last = url.searchParams.get("last");
      const sorted = [...real].sort();
      const from = last === null ? 0 : sorted.findIndex((t) => t > last);
      const page = from === -1 ? [] : sorted.slice(from, from + n);
      const more = from !== -1 && from + n < sorted.length;
      return {
        kind: "status",
        status: 200,
        headers: more
          ? {
              link: `<${url.pathname}?n=${n}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`,
            }
          : {},
        body: JSON.stringify({ name: repo, tags: page }),
      };
    });
    try {
      const paged = await listTags(`${proxy.host}/${repo}`, { pageSize: 2 });
      expect(paged).toEqual([...real].sort());
      const pages = proxy.requests.filter((r) => r.url.includes("/tags/list"));
      expect(pages.map((r) => r.url)).toEqual([
        `/v2/${repo}/tags/list?n=2`,
        `/v2/${repo}/tags/list?n=2&last=1.1`,
        `/v2/${repo}/tags/list?n=2&last=2.0`,
        `/v2/${repo}/tags/list?n=2&last=b`,
      ]);
    } finally {
      await proxy.close();
    }
  }, 300_000);

  it("authenticates as other requests do, and says when the repository does not exist", async () => {
    const repo = unique("tags-auth");
    await pushImage(await ensureImage("debian-bookworm"), authReg.host, `${repo}:x`, {
      username: authReg.username,
      password: authReg.password,
    });
    const creds = { username: authReg.username, password: authReg.password };
    expect(await listTags(`${authReg.host}/${repo}`, { credentials: creds })).toEqual(["x"]);
    await expect(listTags(`${authReg.host}/${repo}`, { env: {} })).rejects.toMatchObject({
      code: "AUTH_FAILED",
    });
    await expect(listTags(`${anon.host}/${unique("none")}`)).rejects.toMatchObject({ code: "NOT_FOUND" });
  }, 300_000);
});

describe("ocipatch patch --config (copa PatchConfig)", () => {
  let dbDir: string;
  beforeAll(async () => {
    dbDir = await trackerDb();
    await ensureBuilt();
  }, 900_000);

  it("patches and pushes every selected image, one failure does not stop the others, JSON per image", async () => {
    const nginx = unique("nginx");
    const base = unique("debian");
    const nginxImage = await ensureImage("nginx-bullseye");
    const baseImage = await ensureImage("debian-bullseye");
    const pushed: Record<string, { digest: string }> = {};
    for (const t of ["1.20.1", "1.21.0", "1.21.1", "stable"]) {
      pushed[`nginx:${t}`] = await pushImage(nginxImage, anon.host, `${nginx}:${t}`);
    }
    pushed["debian:11"] = await pushImage(baseImage, anon.host, `${base}:11`);
    const target = `${anon.host}/${unique("patched")}`;
    const dir = temp("fleet-config");
    const config = writeConfig(
      dir,
      `apiVersion: copa.sh/v1alpha1
kind: PatchConfig
target:
  registry: ${target}
images:
  - name: nginx
    image: ${anon.host}/${nginx}
    tags:
      strategy: pattern
      pattern: "^1\\\\.2[0-9]\\\\.[0-9]+$"
      maxTags: 2
  - name: debian
    image: ${anon.host}/${base}
    tags:
      strategy: list
      list: ["11", "10"]
    target:
      tag: "{{ .SourceTag }}-fixed"
  - name: gone
    image: 127.0.0.1:1/nothing/here
    tags:
      strategy: list
      list: ["1"]
`,
    );
    const r = await runCli([
      "patch",
      "--config",
      config,
      "--push",
      "--jobs",
      "2",
      "--format",
      "json",
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--no-referrers",
    ]);
    expect(r.code, r.stderr).toBe(1);
    const results = JSON.parse(r.stdout) as FleetImageResult[];
    const byName = (s: string) => results.find((x) => x.source === s)!;
    expect(results.map((x) => `${x.source} ${x.status}`).sort()).toEqual(
      [
        `${anon.host}/${base}:11 patched`,
        `${anon.host}/${nginx}:1.21.0 patched`,
        `${anon.host}/${nginx}:1.21.1 patched`,
        "127.0.0.1:1/nothing/here:1 failed",
      ].sort(),
    );
    expect(byName("127.0.0.1:1/nothing/here:1").error?.code).toBe("NETWORK");
    // copa's target rule: target registry + the source's last path component; the tag template
    const nginxLast = nginx.slice(nginx.lastIndexOf("/") + 1);
    const baseLast = base.slice(base.lastIndexOf("/") + 1);
    expect(byName(`${anon.host}/${nginx}:1.21.1`).destination).toBe(`${target}/${nginxLast}:1.21.1-patched`);
    expect(byName(`${anon.host}/${base}:11`).destination).toBe(`${target}/${baseLast}:11-fixed`);
    expect(r.stderr).toContain(`${anon.host}/${base}:10 does not exist; skipped`);
    expect(r.stderr).toMatch(/\[success\] \[\d\/4\] patched /);
    // skopeo sees exactly the patched images, one layer more than their source, pushed as JSON says
    expect(await skopeoTags(`${target}/${nginxLast}`)).toEqual(
      expect.arrayContaining(["1.21.0-patched", "1.21.1-patched"]),
    );
    expect((await skopeoTags(`${target}/${nginxLast}`)).length).toBe(2);
    expect(await skopeoTags(`${target}/${baseLast}`)).toEqual(["11-fixed"]);
    for (const [src, srcKey] of [
      [`${anon.host}/${nginx}:1.21.1`, "nginx:1.21.1"],
      [`${anon.host}/${base}:11`, "debian:11"],
    ] as const) {
      const res = byName(src);
      const before = await skopeoInspect(src);
      const after = await skopeoInspect(res.destination!);
      expect(after.Digest).toBe(res.digest);
      expect(after.Layers.slice(0, -1)).toEqual(before.Layers);
      expect(after.Labels?.["io.ocipatch.base.digest"]).toBe(pushed[srcKey]!.digest);
      expect(res.fixableBefore).toBeGreaterThan(0);
      expect(res.fixableAfter).toBe(0);
    }
    // --dry-run with the summary table: the same images, nothing written
    const dry = await runCli([
      "patch",
      "--config",
      config,
      "--dry-run",
      "--jobs",
      "3",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(dry.code, dry.stderr).toBe(1);
    const lines = dry.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME +STATUS +SOURCE IMAGE +PATCHED IMAGE +TIME +DETAILS$/);
    expect(lines.filter((l) => / Dry-run /.test(l))).toHaveLength(3);
    expect(lines.find((l) => l.includes(`${nginx}:1.21.1`))).toMatch(
      new RegExp(
        `^nginx +Dry-run +\\S+:1\\.21\\.1 +${target}/${nginxLast}:1\\.21\\.1-patched +\\d+\\.\\ds +\\d+ packages? upgraded, \\d+ fixable$`,
      ),
    );
    expect(lines.find((l) => l.startsWith("gone "))).toMatch(
      /^gone +Failed +127\.0\.0\.1:1\/nothing\/here:1 .* cannot connect to registry 127\.0\.0\.1:1/,
    );
    expect(lines[lines.length - 1]).toBe("4 images: 3 ok, 1 failed");
    expect((await skopeoTags(`${target}/${nginxLast}`)).length).toBe(2);
  }, 1_800_000);

  it("N shards run as N processes patch every image exactly once", async () => {
    const repo = unique("shards");
    const image = await ensureImage("debian-bullseye");
    const tags = ["11.1", "11.2", "11.3", "11.4", "11.5"];
    for (const t of tags) await pushImage(image, anon.host, `${repo}:${t}`);
    const dir = temp("fleet-shards");
    const config = writeConfig(
      dir,
      `apiVersion: copa.sh/v1alpha1
kind: PatchConfig
images:
  - image: ${anon.host}/${repo}
    tags: {strategy: pattern, pattern: "^11\\\\."}
`,
    );
    const env = {
      PATH: process.env["PATH"],
      HOME: process.env["HOME"],
      CI: "true",
      OCIPATCH_CACHE_DIR: OCIPATCH_CACHE,
    };
    const n = 3;
    const runs = await Promise.all(
      Array.from({ length: n }, (_, k) =>
        runBin(
          [
            "patch",
            "--config",
            config,
            "--push",
            "--shard",
            `${k}/${n}`,
            "--jobs",
            "1",
            "--format",
            "json",
            "--db-dir",
            dbDir,
            "--skip-db-update",
            "--no-referrers",
          ],
          env,
        ),
      ),
    );
    const patched: string[] = [];
    for (const [k, r] of runs.entries()) {
      expect(r.code, `shard ${k}: ${r.stderr}`).toBe(0);
      const results = JSON.parse(r.stdout) as FleetImageResult[];
      expect(results.length).toBeGreaterThanOrEqual(1);
      for (const x of results) {
        expect(x.status).toBe("patched");
        patched.push(x.source);
      }
    }
    expect(patched.sort()).toEqual(tags.map((t) => `${anon.host}/${repo}:${t}`).sort());
    expect((await skopeoTags(`${anon.host}/${repo}`)).sort()).toEqual(
      [...tags, ...tags.map((t) => `${t}-patched`)].sort(),
    );
    // the registry received each patched tag's manifest exactly once
    const log = readFileSync(anon.logFile, "utf8");
    for (const t of tags) {
      const puts = log.split("\n").filter((l) => l.includes(`"PUT /v2/${repo}/manifests/${t}-patched `));
      expect(puts, t).toHaveLength(1);
    }
  }, 1_800_000);

  it("refuses a bad config with one line naming the field, and single-image flags", async () => {
    const dir = temp("fleet-bad");
    const bad = writeConfig(
      dir,
      "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: a/b\n    tags: {strategy: pattern}\n",
    );
    const r = await runCli(["patch", "--config", bad, "--push"]);
    // INVALID_FORMAT, as for an invalid ocipatch config file
    expect(r.code).toBe(6);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`config file ${bad}: images[0].tags.pattern:`);
    const ok = writeConfig(
      dir,
      "apiVersion: copa.sh/v1alpha1\nkind: PatchConfig\nimages:\n  - image: a/b\n    tags: {strategy: latest}\n",
    );
    const withImage = await runCli(["patch", "--config", ok, "--push", "-i", "a/b:1"]);
    expect(withImage.code).toBe(2);
    expect(withImage.stderr).toContain("--image cannot be used with a PatchConfig");
    // --suites applies to every image of the fleet: a bad value is refused up front
    const badSuites = await runCli(["patch", "--config", ok, "--push", "--suites", "nightly"]);
    expect(badSuites.code).toBe(2);
    expect(badSuites.stderr).toContain('unknown suite kind "nightly"');
    const noPush = await runCli(["patch", "--config", ok]);
    expect(noPush.code).toBe(2);
    expect(noPush.stderr).toContain("pass --push");
    // a file without copa's kind/apiVersion is still ocipatch's own configuration (mirrors, keyrings)
    const own = join(dir, "own.json");
    writeFileSync(own, JSON.stringify({ apt: { mirror: "not a url" } }));
    const ownRun = await runCli(["patch", "--config", own, "--push", "-i", `${anon.host}/none/such:1`]);
    expect(ownRun.code).toBe(6);
    expect(ownRun.stderr).toContain(`config file ${own}: apt.mirror:`);
    const shardWithoutConfig = await runCli(["patch", "-i", "a/b:1", "--shard", "0/2"]);
    expect(shardWithoutConfig.code).toBe(2);
    expect(shardWithoutConfig.stderr).toContain("--jobs and --shard need a PatchConfig");
  }, 120_000);
});
