/**
 * The harness's robustness: cross-process build locks (mutual exclusion, no stale locks after a
 * kill), removal that never crosses mounts, sweeping leftovers of killed processes, and chroots
 * that are always undone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../harness/exec.js";
import { makeTempDir, mountsUnder, safeRemove, sweepStaleTempDirs } from "../harness/fs.js";

const ROOT = resolve(import.meta.dirname, "../..");

function holder(
  lock: string,
  log: string,
  label: string,
  holdMs: number,
): { proc: ChildProcess; acquired: Promise<void>; exited: Promise<number | null> } {
  const proc = spawn(
    "node",
    ["scripts/run-ts.mjs", "test/integration/fixtures/hold-lock.ts", lock, log, label, String(holdMs)],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const acquired = new Promise<void>((res) =>
    proc.stdout!.on("data", (b: Buffer) => b.toString().includes("acquired") && res()),
  );
  const exited = new Promise<number | null>((res) => proc.once("close", (c) => res(c)));
  return { proc, acquired, exited };
}

function intervals(log: string): Map<string, { start: number; end: number }> {
  const m = new Map<string, { start: number; end: number }>();
  for (const line of readFileSync(log, "utf8").trim().split("\n")) {
    const [label, what, t] = line.split(" ") as [string, "start" | "end", string];
    const cur = m.get(label) ?? { start: Number.NaN, end: Number.NaN };
    cur[what] = Number(t);
    m.set(label, cur);
  }
  return m;
}

describe("withLock across processes", () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir("locktest");
  });
  afterAll(async () => {
    await safeRemove(dir);
  });

  it("lets only one process hold the lock at a time", async () => {
    const lock = join(dir, "a.lock");
    const log = join(dir, "a.log");
    const hs = ["p1", "p2", "p3"].map((l) => holder(lock, log, l, 700));
    const codes = await Promise.all(hs.map((h) => h.exited));
    expect(codes).toEqual([0, 0, 0]);
    const iv = [...intervals(log).values()].sort((a, b) => a.start - b.start);
    expect(iv).toHaveLength(3);
    for (let i = 1; i < iv.length; i++) expect(iv[i]!.start).toBeGreaterThanOrEqual(iv[i - 1]!.end);
  }, 60_000);

  it("is released when its holder is killed (no stale lock)", async () => {
    const lock = join(dir, "b.lock");
    const log = join(dir, "b.log");
    const victim = holder(lock, log, "victim", 600_000);
    await victim.acquired;
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const t0 = Date.now();
    const next = holder(lock, log, "next", 10);
    expect(await next.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000);
    const iv = intervals(log);
    expect(iv.get("victim")?.end).toBeNaN();
    expect(iv.get("next")?.end).toBeGreaterThan(0);
  }, 60_000);
});

describe("safeRemove and sweepStaleTempDirs", () => {
  it("unmounts what a dead process left mounted, then removes its temp dir", async () => {
    // a pid that cannot be alive: above the kernel's pid_max
    const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
    const stale = join(tmpdir(), `ocipatch-h-${pidMax + 1}-leftover-test`);
    mkdirSync(join(stale, "rootfs/proc"), { recursive: true });
    writeFileSync(join(stale, "rootfs/file"), "x");
    await run("mount", ["-t", "tmpfs", "ocipatch-test", join(stale, "rootfs/proc")]);
    writeFileSync(join(stale, "rootfs/proc/inside-mount"), "y");
    expect(mountsUnder(stale)).toHaveLength(1);
    const removed = await sweepStaleTempDirs();
    expect(removed).toContain(stale);
    expect(existsSync(stale)).toBe(false);
    expect(mountsUnder(stale)).toHaveLength(0);
  });

  it("keeps the temp dirs of live processes", async () => {
    const mine = makeTempDir("alive");
    await sweepStaleTempDirs();
    expect(existsSync(mine)).toBe(true);
    await safeRemove(mine);
    expect(existsSync(mine)).toBe(false);
  });

  it("refuses to remove system directories", async () => {
    await expect(safeRemove("/usr")).rejects.toThrow(/refusing/);
    await expect(safeRemove(tmpdir())).rejects.toThrow(/refusing/);
  });
});

describe("ensureImage from parallel processes", () => {
  it("builds an image once while the second process waits for it, then both use that build", async () => {
    const dir = makeTempDir("parallel-cache");
    try {
      const env = { ...process.env, OCIPATCH_TEST_CACHE: join(dir, "cache") };
      const start = () =>
        run(
          "node",
          ["scripts/run-ts.mjs", "test/integration/fixtures/ensure-image.ts", "distroless-bookworm"],
          { cwd: ROOT, env },
        );
      const [a, b] = await Promise.all([start(), start()]);
      const ra = JSON.parse(a.stdout) as { key: string; digest: string; builtAt: string };
      const rb = JSON.parse(b.stdout) as { key: string; digest: string; builtAt: string };
      expect(rb).toEqual(ra);
      const builds = readFileSync(join(dir, "cache/build-times.log"), "utf8").trim().split("\n");
      expect(builds).toHaveLength(1);
      expect(`${a.stderr}${b.stderr}`).toMatch(/waiting for test image distroless-bookworm/);
      // nothing left behind in the cache's work area
      expect(readdirSync(join(dir, "cache/tmp"))).toEqual([]);
    } finally {
      await safeRemove(dir);
    }
  }, 300_000);
});
