/**
 * `ocipatch patch` beyond the happy path: re-patching replaces the ocipatch layer, other
 * destinations (OCI layout, docker archive), nothing to patch, timeouts, usage errors, a
 * tampered or vanished .deb on the mirror, bad credentials. Real registry, real mirror
 * (through a local proxy for the fault cases), skopeo/umoci as oracles.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hostDebianMirror } from "../harness/apt-support.js";
import { run } from "../harness/exec.js";
import { makeTempDir } from "../harness/fs.js";
import { ensureImage } from "../harness/images.js";
import { dpkgList, unpackImage } from "../harness/oracle.js";
import { runCli, trackerDb } from "../harness/patch-support.js";
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

async function skopeoLayers(
  ref: string,
): Promise<{ digest: string; layers: string[]; labels: Record<string, string> }> {
  const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", ref]);
  const j = JSON.parse(stdout) as { Digest: string; Layers: string[]; Labels: Record<string, string> | null };
  return { digest: j.Digest, layers: j.Layers, labels: j.Labels ?? {} };
}

async function exists(ref: string): Promise<boolean> {
  const r = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", ref], { okCodes: [0, 1, 2] });
  return r.code === 0;
}

const unique = (name: string) =>
  `cli/${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

describe("ocipatch patch (CLI behaviour)", () => {
  let dbDir: string;
  let bullseye: { ref: string; digest: string };
  beforeAll(async () => {
    dbDir = await trackerDb();
    bullseye = await pushImage(await ensureImage("nginx-bullseye"), anon.host, `${unique("nginx")}:1`);
  }, 600_000);

  it("re-patching replaces the ocipatch layer instead of stacking another", async () => {
    const first = await runCli([
      "patch",
      "--push",
      "-i",
      bullseye.ref,
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(first.code, first.stderr).toBe(0);
    const p1 = `${bullseye.ref}-patched`;
    const second = await runCli([
      "patch",
      "--push",
      "-i",
      p1,
      "-t",
      "2-patched",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("previous ocipatch layer");
    const base = await skopeoLayers(`docker://${bullseye.ref}`);
    const a = await skopeoLayers(`docker://${p1}`);
    const b = await skopeoLayers(`docker://${bullseye.ref.replace(/:1$/, ":2-patched")}`);
    expect(a.layers).toHaveLength(base.layers.length + 1);
    expect(b.layers).toHaveLength(base.layers.length + 1);
    expect(b.layers.slice(0, -1)).toEqual(base.layers);
    expect(b.labels["io.ocipatch.base.digest"]).toBe(bullseye.digest);
    // the origin in the manifest's annotations too, kept through the re-patch
    for (const ref of [p1, bullseye.ref.replace(/:1$/, ":2-patched")]) {
      const raw = JSON.parse(
        (await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`])).stdout,
      ) as { annotations?: Record<string, string> };
      expect(raw.annotations?.["org.opencontainers.image.base.digest"]).toBe(bullseye.digest);
      expect(raw.annotations?.["org.opencontainers.image.base.name"]).toBe(bullseye.ref);
    }
    // the summary block of the seed
    expect(first.stdout).toMatch(
      /Vulnerability summary:\nImage: .*nginx.*:1\n {2}\* Total CVE's {2}: \d+\n {2}\* Fixable CVE's: \d+\n\nImage: .*:1-patched\n {2}\* Total CVE's {2}: \d+\n {2}\* Fixable CVE's: 0\n/,
    );
  }, 600_000);

  it("-r writes the reports and attaches the VEX to the pushed image; inspect shows the referrer", async () => {
    const dir = temp("patch-reports");
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      bullseye.ref,
      "-t",
      "reported",
      "-r",
      "--report-dir",
      dir,
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const names = readdirSync(dir).sort();
    const stem = `${anon.host}-${bullseye.ref.split("/").slice(1).join("-").replace(/:1$/, "")}:reported`;
    for (const suffix of [
      "-after.json",
      "-before.json",
      "-plan.json",
      "-report.json",
      "-vex.json",
      ".sarif",
    ]) {
      expect(names).toContain(`${stem}${suffix}`);
    }
    const vex = JSON.parse(readFileSync(join(dir, `${stem}-vex.json`), "utf8")) as {
      "@context": string;
      statements: Array<{ status: string; products: Array<{ "@id": string }> }>;
    };
    expect(vex["@context"]).toBe("https://openvex.dev/ns/v0.2.0");
    expect(vex.statements.length).toBeGreaterThan(0);
    const patched = await skopeoLayers(`docker://${bullseye.ref.replace(/:1$/, ":reported")}`);
    for (const st of vex.statements) {
      expect(st.status).toBe("fixed");
      expect(st.products[0]!["@id"]).toContain(`@${patched.digest}`);
    }
    expect(r.stderr).toContain("as a referrer");
    const ins = await runCli(["inspect", bullseye.ref.replace(/:1$/, ":reported"), "--format", "json"]);
    expect(ins.code, ins.stderr).toBe(0);
    const j = JSON.parse(ins.stdout) as { referrers?: Array<{ artifactType?: string }> };
    expect(j.referrers?.map((x) => x.artifactType).sort()).toEqual([
      "application/vnd.cyclonedx+json",
      "application/vnd.in-toto+json",
    ]);
  }, 600_000);

  it("--vuln-report: a copa v1alpha1 manifest drives the patch; a report for another release is refused", async () => {
    const dir = temp("patch-vulnreport");
    const manifest = {
      apiVersion: "v1alpha1",
      metadata: { os: { type: "debian", version: "11" }, config: { arch: "amd64" } },
      updates: [
        {
          name: "openssl",
          installedVersion: "1.1.1w-0+deb11u1",
          fixedVersion: "1.1.1w-0+deb11u2",
          vulnerabilityID: "CVE-2024-5535",
        },
      ],
    };
    const file = join(dir, "copa.json");
    writeFileSync(file, JSON.stringify(manifest));
    const r = await runCli([
      "patch",
      "-i",
      bullseye.ref,
      "--vuln-report",
      file,
      "--dry-run",
      "--format",
      "json",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { platforms: Array<{ packages: Array<{ name: string }> }> };
    const names = res.platforms[0]!.packages.map((p) => p.name).sort();
    expect(names).toContain("openssl");
    expect(names).toContain("libssl1.1");
    expect(names).not.toContain("curl");

    const other = join(dir, "buster.json");
    writeFileSync(
      other,
      JSON.stringify({
        ...manifest,
        metadata: { ...manifest.metadata, os: { type: "debian", version: "10" } },
      }),
    );
    const bad = await runCli([
      "patch",
      "-i",
      bullseye.ref,
      "--vuln-report",
      other,
      "--dry-run",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split("\n").filter((l) => l.startsWith("[error]"))).toEqual([
      expect.stringMatching(/is about debian 10, but the image is debian 11/),
    ]);
  }, 600_000);

  it("--dest oci:DIR:TAG writes a layout umoci unpacks, with the planned versions", async () => {
    const dir = temp("patch-oci");
    const r = await runCli([
      "patch",
      "-i",
      bullseye.ref,
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--dest",
      `oci:${dir}/layout:fixed`,
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as {
      platforms: Array<{ packages: Array<{ name: string; to: string }> }>;
    };
    const { rootfs } = await unpackImage(`oci:${dir}/layout:fixed`, join(dir, "bundle"));
    const installed = await dpkgList(rootfs);
    for (const p of res.platforms[0]!.packages) {
      expect(installed.get(p.name) ?? installed.get(`${p.name}:amd64`), p.name).toBe(p.to);
    }
  }, 600_000);

  it("--dest docker-archive:FILE:REF writes an archive skopeo reads", async () => {
    const dir = temp("patch-archive");
    const file = join(dir, "patched.tar");
    const r = await runCli([
      "patch",
      "-i",
      bullseye.ref,
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--dest",
      `docker-archive:${file}:example/nginx:fixed`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const base = await skopeoLayers(`docker://${bullseye.ref}`);
    const out = await skopeoLayers(`docker-archive:${file}`);
    expect(out.layers).toHaveLength(base.layers.length + 1);
  }, 600_000);

  it("an image with nothing to fix: exit 0, said plainly, nothing written", async () => {
    const img = await pushImage(await ensureImage("debian-bookworm"), anon.host, `${unique("bookworm")}:1`);
    const r = await runCli(["patch", "--push", "-i", img.ref, "--db-dir", dbDir, "--skip-db-update"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Nothing to patch");
    expect(await exists(`docker://${img.ref}-patched`)).toBe(false);
  }, 600_000);

  it("--timeout: a one-line error, exit 5, nothing pushed", async () => {
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      bullseye.ref,
      "-t",
      "timeout",
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--timeout",
      "300ms",
    ]);
    expect(r.code).toBe(5);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/did not finish within 300ms \(--timeout\); nothing was written/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await exists(`docker://${bullseye.ref.replace(/:1$/, ":timeout")}`)).toBe(false);
  }, 120_000);

  it.each([
    [["-t", "x", "--dest", "oci:/tmp/never"], /either a tag or a destination, not both \(--tag, --dest\)/],
    [["--compression", "brotli"], /brotli/],
    [["--format", "yaml"], /--format/],
    [["--timeout", "soon"], /duration|timeout/i],
    [["-u", "only-user"], /both --username and --password .*or neither/],
  ])("usage error %j → exit 2", async (extra, msg) => {
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      bullseye.ref,
      "--db-dir",
      dbDir,
      "--skip-db-update",
      ...extra,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(msg);
  });

  it("-a is accepted for compatibility and said to be unneeded", async () => {
    const r = await runCli([
      "patch",
      "-i",
      bullseye.ref,
      "-a",
      "tcp://0.0.0.0:8888",
      "--db-dir",
      dbDir,
      "--skip-db-update",
      "--dry-run",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("needs no BuildKit");
  });

  it("a wrong password: one line naming the registry, exit 1, the password never shown", async () => {
    const img = await pushImage(await ensureImage("debian-bullseye"), authReg.host, `${unique("auth")}:1`, {
      username: authReg.username,
      password: authReg.password,
    });
    const r = await runCli([
      "patch",
      "--push",
      "-i",
      img.ref,
      "-u",
      authReg.username,
      "-p",
      "not-the-Pa55word",
      "--db-dir",
      dbDir,
      "--skip-db-update",
    ]);
    expect(r.code).toBe(4);
    const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(authReg.host);
    expect(r.stdout + r.stderr).not.toContain("not-the-Pa55word");
  }, 600_000);
});

/** A mirror in front of the real one that can tamper with or hide .debs. */
async function startMirrorProxy(
  upstream: { debian: string; security: string },
  fault: (path: string) => "tamper" | "404" | undefined,
): Promise<{ url: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    hits.push(path);
    const m = /^\/(debian|debian-security)(\/.*)$/.exec(path);
    if (!m) {
      res.writeHead(404).end();
      return;
    }
    const f = path.endsWith(".deb") ? fault(path) : undefined;
    if (f === "404") {
      res.writeHead(404).end();
      return;
    }
    try {
      const up = await request(`${m[1] === "debian" ? upstream.debian : upstream.security}${m[2]}`, {
        method: "GET",
        headers: req.headers["if-none-match"]
          ? { "if-none-match": String(req.headers["if-none-match"]) }
          : {},
      });
      const body = Buffer.from(await up.body.arrayBuffer());
      if (f === "tamper" && body.length > 2000) body[body.length - 1000]! ^= 0xff;
      res.writeHead(up.statusCode, { "content-length": String(body.length) }).end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}`, server, hits };
}

describe("ocipatch patch with a misbehaving mirror", () => {
  let dbDir: string;
  let image: { ref: string };
  let upstream: { debian: string; security: string };
  beforeAll(async () => {
    dbDir = await trackerDb();
    upstream = await hostDebianMirror();
    image = await pushImage(await ensureImage("nginx-bullseye"), anon.host, `${unique("mirror")}:1`);
  }, 600_000);

  it.each([
    ["tamper" as const, /does not match the SHA256 of the signed index/, 6],
    ["404" as const, /is no longer on the mirror/, 3],
  ])(
    "a %s .deb: one-line error, its exit code, nothing pushed, nothing half-written in the cache",
    async (fault, msg, code) => {
      const proxy = await startMirrorProxy(upstream, (p) => (p.includes("/openssl_") ? fault : undefined));
      const cache = temp(`patch-mirror-${fault}`);
      try {
        const r = await runCli(
          [
            "patch",
            "--push",
            "-i",
            image.ref,
            "-t",
            `fault-${fault}`,
            "--db-dir",
            dbDir,
            "--skip-db-update",
            "--mirror",
            `${proxy.url}/debian`,
            "--security-mirror",
            `${proxy.url}/debian-security`,
          ],
          { OCIPATCH_CACHE_DIR: cache },
        );
        expect(r.code).toBe(code);
        const errors = r.stderr.split("\n").filter((l) => l.startsWith("[error]"));
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatch(msg);
        expect(errors[0]).toContain("openssl");
        expect(proxy.hits.some((h) => h.includes("/openssl_"))).toBe(true);
        expect(await exists(`docker://${image.ref.replace(/:1$/, `:fault-${fault}`)}`)).toBe(false);
        const debs = join(cache, "debs");
        const left = existsSync(debs) ? readdirSync(debs) : [];
        expect(left.filter((f) => f.endsWith(".part"))).toEqual([]);
      } finally {
        proxy.server.close();
      }
    },
    600_000,
  );
});
