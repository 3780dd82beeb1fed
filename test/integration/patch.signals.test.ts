/**
 * Deadlines and signals during `ocipatch patch`, with the real bin/ocipatch as a child
 * process: the `--timeout` bounds, a `--vuln-report` pipe that never delivers, SIGINT/SIGTERM
 * during download, build and push (exit 130/143, destinations untouched, temporary files gone),
 * the truth about a destination whose write was cut short, and the sweep of what a SIGKILLed
 * run left behind. Real registry (through the fault proxy where a push must stall), real
 * mirror (through a loopback front where a download must stall).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { hostDebianMirror } from "../harness/apt-support.js";
import { ensureBuilt, spawnBin } from "../harness/cli.js";
import { run } from "../harness/exec.js";
import { type FaultProxy, isManifest, PASS, startFaultProxy } from "../harness/fault-proxy.js";
import { makeTempDir } from "../harness/fs.js";
import { copyImageLayout, ensureImage } from "../harness/images.js";
import { OCIPATCH_CACHE, runCli, trackerDb } from "../harness/patch-support.js";
import { pushImage } from "../harness/push.js";

const reg = inject("registry");

const work: string[] = [];
function temp(label: string): string {
  const d = makeTempDir(label);
  work.push(d);
  return d;
}
const servers: { close(): unknown }[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const d of work) await rm(d, { recursive: true, force: true });
});

const unique = (name: string) =>
  `signals/${name}-${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

async function exists(ref: string): Promise<boolean> {
  const r = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", ref], { okCodes: [0, 1, 2] });
  return r.code === 0;
}

/** What ocipatch left in a directory: names carrying its `ocipatch-<pid>-` marker. */
function leftovers(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => /ocipatch-\d+-/.test(n)) : [];
}

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** ms from the signal (or the start, when none was sent) to the exit */
  readonly afterSignalMs: number;
}

/**
 * Run bin/ocipatch; when its stderr matches `when` (or `trigger()` resolves), send `sig`.
 * Resolves when the process has exited.
 */
function runAndSignal(
  args: string[],
  env: NodeJS.ProcessEnv,
  sig: NodeJS.Signals | undefined,
  when: RegExp | (() => Promise<void>),
): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawnBin(args, env);
    let err = "";
    let sentAt = Date.now();
    let sent = false;
    const send = () => {
      if (sent || sig === undefined) return;
      sent = true;
      sentAt = Date.now();
      child.kill(sig);
    };
    child.stdout!.resume();
    child.stderr!.on("data", (c: Buffer) => {
      err += c.toString("utf8");
      if (when instanceof RegExp && when.test(err)) send();
    });
    if (typeof when === "function") when().then(send, reject);
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({ code, signal, stderr: err, afterSignalMs: Date.now() - sentAt }),
    );
  });
}

function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("[error]"));
}

let dbDir: string;
let image: { ref: string };
/** The environment of a child run: its own TMPDIR, the shared cache unless told otherwise. */
function childEnv(tmp: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env["PATH"],
    HOME: process.env["HOME"],
    CI: "true",
    TMPDIR: tmp,
    OCIPATCH_CACHE_DIR: OCIPATCH_CACHE,
    ...extra,
  };
}
const base = () => ["patch", "--push", "-i", image.ref, "--db-dir", dbDir, "--skip-db-update"];

beforeAll(async () => {
  await ensureBuilt();
  dbDir = await trackerDb();
  image = await pushImage(await ensureImage("nginx-bullseye"), reg.host, `${unique("nginx")}:1`);
  // warm the shared apt/.deb cache once, so later runs reach the build quickly
  const warm = await runCli([...base(), "--dry-run"]);
  expect(warm.code, warm.stderr).toBe(0);
}, 900_000);

describe("--timeout bounds", () => {
  it.each(["597h", "1194h", "100000h"])(
    "--timeout %s is a usage error (exit 2), not an instant timeout",
    async (t) => {
      const r = await runCli(["patch", "-i", "oci:/nonexistent/layout", "--timeout", t]);
      expect(r.code).toBe(2);
      const errors = errorLines(r.stderr);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(`--timeout must be at most 576h, got "${t}"`);
    },
  );

  it("the documented maximum, 576h, is accepted", async () => {
    const r = await runCli(["patch", "--push", "-i", "oci:/nonexistent/layout", "--timeout", "576h"]);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).not.toContain("--timeout");
    expect(r.code).toBe(3);
  });
});

describe("deadline", () => {
  it("a --vuln-report pipe that never delivers: the timeout line, promptly, nothing left in TMPDIR", async () => {
    const tmp = temp("fifo");
    const fifo = join(tmp, "report.json");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const t0 = Date.now();
    const r = await runAndSignal(
      [...base(), "-t", "fifo", "--vuln-report", fifo, "--timeout", "2s"],
      childEnv(tmp),
      undefined,
      /never/,
    );
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.code).toBe(5);
    const errors = errorLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/did not finish within 2\.00s \(--timeout\); nothing was written/);
    expect(leftovers(tmp)).toEqual([]);
  }, 60_000);

  it("SIGINT after the registry stored the manifest, before it answered: the line says whole or unchanged; it is whole", async () => {
    const tmp = temp("put-stored");
    let reached: () => void = () => {};
    const atPut = new Promise<void>((r) => {
      reached = r;
    });
    const proxy = await startFaultProxy(reg.host, (req) => {
      if (req.method === "PUT" && isManifest(req)) {
        req.on("end", () => setTimeout(reached, 1000));
        return { kind: "forward-then-hang" };
      }
      return PASS;
    });
    servers.push(proxy);
    const dest = `${proxy.host}/${unique("put-stored")}:patched`;
    const r = await runAndSignal([...base(), "-t", dest], childEnv(tmp), "SIGINT", () => atPut);
    expect(r.code, r.stderr).toBe(130);
    const errors = errorLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(
      `interrupted by SIGINT; the write to ${dest} was cut short: it is unchanged or holds the whole patched image, never a part`,
    );
    expect(errors[0]).not.toContain("nothing was written");
    // the registry did store it, and every blob it names is there
    await run("skopeo", [
      "copy",
      "--src-tls-verify=false",
      `docker://${dest.replace(proxy.host, reg.host)}`,
      `oci:${join(tmp, "check")}:x`,
    ]);
    await rm(join(tmp, "check"), { recursive: true });
    expect(leftovers(tmp)).toEqual([]);
  }, 300_000);
});

/** A loopback front of the real mirror whose .deb downloads hang (answer headers, then nothing). */
async function stallingMirror(): Promise<{ url: string; stalled: Promise<void> }> {
  const upstream = await hostDebianMirror();
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((r) => {
    onStall = r;
  });
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? "/";
    const m = /^\/(debian|debian-security)(\/.*)$/.exec(path);
    if (!m) return void res.writeHead(404).end();
    if (path.endsWith(".deb")) {
      res.writeHead(200, { "content-length": "1000000" });
      res.write(Buffer.alloc(1000));
      onStall();
      return; // never more
    }
    try {
      const up = await request(`${m[1] === "debian" ? upstream.debian : upstream.security}${m[2]}`);
      const body = Buffer.from(await up.body.arrayBuffer());
      res.writeHead(up.statusCode, { "content-length": String(body.length) }).end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, stalled };
}

describe("SIGINT / SIGTERM", () => {
  it("SIGINT during the download: exit 130, one line, nothing pushed, work dir and partial .debs gone", async () => {
    const tmp = temp("sig-download");
    const cache = temp("sig-download-cache");
    const mirror = await stallingMirror();
    const dest = `${image.ref.replace(/:1$/, ":sigint-download")}`;
    const r = await runAndSignal(
      [
        ...base(),
        "-t",
        "sigint-download",
        "--mirror",
        `${mirror.url}/debian`,
        "--security-mirror",
        `${mirror.url}/debian-security`,
      ],
      childEnv(tmp, { OCIPATCH_CACHE_DIR: cache }),
      "SIGINT",
      () => mirror.stalled,
    );
    expect(r.code, r.stderr).toBe(130);
    expect(r.afterSignalMs).toBeLessThan(10_000);
    const errors = errorLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/interrupted by SIGINT; nothing was written/);
    expect(await exists(`docker://${dest}`)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
    const debs = join(cache, "debs");
    const partial = existsSync(debs)
      ? readdirSync(debs, { recursive: true }).filter((f) => /\.part$|\.tmp/.test(String(f)))
      : [];
    expect(partial).toEqual([]);
  }, 300_000);

  it("SIGTERM during the build, writing into an existing OCI layout: exit 143, the layout untouched, no temp files", async () => {
    const tmp = temp("sig-build");
    const layout = join(temp("sig-build-out"), "layout");
    const src = await copyImageLayout(await ensureImage("nginx-bullseye"), layout);
    const indexBefore = readFileSync(join(layout, "index.json"));
    const blobsBefore = readdirSync(join(layout, "blobs/sha256")).sort();
    // a layer an earlier test's run stored would leave no build to interrupt
    const r = await runAndSignal(
      [
        "patch",
        "--push",
        "-i",
        src,
        "-t",
        "patched",
        "--db-dir",
        dbDir,
        "--skip-db-update",
        "--no-layer-cache",
      ],
      childEnv(tmp),
      "SIGTERM",
      /building the patch layer/,
    );
    expect(r.code, r.stderr).toBe(143);
    expect(r.afterSignalMs).toBeLessThan(10_000);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(errorLines(r.stderr)[0]).toMatch(/interrupted by SIGTERM/);
    expect(readFileSync(join(layout, "index.json")).equals(indexBefore)).toBe(true);
    expect(readdirSync(join(layout, "blobs/sha256")).sort()).toEqual(blobsBefore);
    expect(leftovers(layout)).toEqual([]);
    expect(leftovers(tmp)).toEqual([]);
  }, 300_000);

  it("SIGINT while pushing (a manifest PUT that hangs): exit 130, the tag not moved, work dir gone", async () => {
    const tmp = temp("sig-push");
    let reached: () => void = () => {};
    const atPut = new Promise<void>((r) => {
      reached = r;
    });
    const proxy: FaultProxy = await startFaultProxy(reg.host, (req) => {
      if (req.method === "PUT" && isManifest(req)) {
        reached();
        return { kind: "hang" };
      }
      return PASS;
    });
    servers.push(proxy);
    const dest = `${proxy.host}/${unique("sig-push")}:patched`;
    const r = await runAndSignal([...base(), "-t", dest], childEnv(tmp), "SIGINT", () => atPut);
    expect(r.code, r.stderr).toBe(130);
    expect(r.afterSignalMs).toBeLessThan(10_000);
    const errors = errorLines(r.stderr);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`interrupted by SIGINT; the write to ${dest} was cut short`);
    expect(await exists(`docker://${dest.replace(proxy.host, reg.host)}`)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
  }, 300_000);
});

describe("what a killed run left behind", () => {
  it("a later run removes work dirs, staging dirs and partial blobs of dead owners, never a live one's", async () => {
    const tmp = temp("sweep");
    const outDir = temp("sweep-out");
    const layout = join(outDir, "layout");
    const src = await copyImageLayout(await ensureImage("nginx-bullseye"), layout);
    // a pid that surely does not exist: a process that has just ended
    const dead = spawnSync(process.execPath, [
      "-e",
      "process.stdout.write(String(process.pid))",
    ]).stdout.toString();
    const live = String(process.pid);
    const made = {
      work: join(tmp, `ocipatch-${dead}-patch-abcdef`),
      workLive: join(tmp, `ocipatch-${live}-patch-abcdef`),
      staging: join(outDir, `.layout.ocipatch-${dead}-abcdef`),
      stagingLive: join(outDir, `.layout.ocipatch-${live}-abcdef`),
      blob: join(layout, `.0123456789ab.ocipatch-${dead}-00112233aabb.tmp`),
      blobLive: join(layout, `.0123456789ab.ocipatch-${live}-00112233aabb.tmp`),
    };
    for (const d of [made.work, made.workLive, made.staging, made.stagingLive]) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, "junk"), Buffer.alloc(4096));
    }
    writeFileSync(made.blob, "partial");
    writeFileSync(made.blobLive, "partial");
    const r = await runAndSignal(
      ["patch", "--push", "-i", src, "-t", "patched", "--db-dir", dbDir, "--skip-db-update"],
      childEnv(tmp),
      undefined,
      /never/,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(made.work)).toBe(false);
    expect(existsSync(made.staging)).toBe(false);
    expect(existsSync(made.blob)).toBe(false);
    expect(existsSync(made.workLive)).toBe(true);
    expect(existsSync(made.stagingLive)).toBe(true);
    expect(existsSync(made.blobLive)).toBe(true);
    // and the layout is valid for umoci
    await run("umoci", ["stat", "--image", `${layout}:patched`]);
  }, 300_000);
});
