import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitForUnlock, withFileLock } from "../file-lock.js";

let dir: string;
let lock: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ocipatch-lock-test-"));
  lock = join(dir, ".index.json.lock");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quick = { timeoutMs: 300 };

describe("withFileLock", () => {
  it("writes its owner (pid, token, host) while held and removes the lock after", async () => {
    const seen = await withFileLock(lock, "x", async () => readFileSync(lock, "utf8"));
    expect(seen).toMatch(new RegExp(`^${process.pid} [0-9a-f]{16} ${hostname()}\\n$`));
    expect(existsSync(lock)).toBe(false);
  });

  it("takes turns between two holders in one process", async () => {
    const order: string[] = [];
    let release!: () => void;
    const first = withFileLock(lock, "x", async () => {
      order.push("first in");
      await new Promise<void>((r) => {
        release = r;
      });
      order.push("first out");
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = withFileLock(lock, "x", async () => {
      order.push("second");
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual(["first in"]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first in", "first out", "second"]);
  });

  it.each([
    ["no lock", undefined],
    ["a stale lock", `${process.pid} 0123456789abcdef ${hostname()}\n`],
  ])("many holders in one process never overlap, starting from %s", async (_, left) => {
    if (left !== undefined) writeFileSync(lock, left);
    const counter = join(dir, "counter");
    writeFileSync(counter, "0");
    let inside = 0;
    let most = 0;
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, () =>
        withFileLock(lock, "x", async () => {
          most = Math.max(most, ++inside);
          const v = Number(readFileSync(counter, "utf8"));
          await new Promise((r) => setImmediate(r));
          writeFileSync(counter, String(v + 1));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    expect(readFileSync(counter, "utf8")).toBe(String(n));
    expect(existsSync(lock)).toBe(false);
  });

  it("takes over a lock naming this process's pid that it does not hold (a killed pid 1 in a container)", async () => {
    writeFileSync(lock, `${process.pid} 0123456789abcdef ${hostname()}\n`);
    expect(await withFileLock(lock, "x", async () => "ran", quick)).toBe("ran");
    writeFileSync(lock, `${process.pid}`);
    expect(await waitForUnlock(lock, "x", quick)).toBe(false);
  });

  it("removes a stale lock only through its break file, and a break file a killed run left once it is old", async () => {
    writeFileSync(lock, `${process.pid} 0123456789abcdef ${hostname()}\n`);
    writeFileSync(`${lock}.break`, "");
    await expect(withFileLock(lock, "x", async () => "ran", quick)).rejects.toThrow(
      "locked by another process;",
    );
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${lock}.break`, old, old);
    expect(await withFileLock(lock, "x", async () => "ran", quick)).toBe("ran");
    expect(existsSync(lock) || existsSync(`${lock}.break`)).toBe(false);
  });

  it("never takes another host's lock: waits, then names the lock file to remove", async () => {
    const text = "1 0123456789abcdef some-other-container\n";
    writeFileSync(lock, text);
    await expect(withFileLock(lock, "DIR/index.json", async () => "ran", quick)).rejects.toThrow(
      `DIR/index.json is locked by another process (pid 1 on some-other-container); try again later, or remove ${lock} if no other ocipatch run uses it`,
    );
    await expect(waitForUnlock(lock, "DIR/index.json", quick)).rejects.toThrow("locked by another process");
    expect(readFileSync(lock, "utf8")).toBe(text);
  });

  it("waits for an empty lock file a run has just created, and takes one left empty for long", async () => {
    writeFileSync(lock, "");
    await expect(withFileLock(lock, "x", async () => "ran", quick)).rejects.toThrow(
      "locked by another process;",
    );
    expect(existsSync(lock)).toBe(true);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await waitForUnlock(lock, "x", quick)).toBe(false);
    expect(await withFileLock(lock, "x", async () => "ran", quick)).toBe("ran");
  });
});
