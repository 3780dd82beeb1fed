import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openRegularFile, readRegularFile } from "../regular-file.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-regular-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readRegularFile", () => {
  it("reads a regular file whole", async () => {
    const p = join(dir, "a");
    writeFileSync(p, "hello");
    expect((await readRegularFile(p, 5)).toString()).toBe("hello");
    writeFileSync(join(dir, "empty"), "");
    expect((await readRegularFile(join(dir, "empty"), 5)).length).toBe(0);
  });

  it("refuses a file over the cap", async () => {
    const p = join(dir, "big");
    writeFileSync(p, "x".repeat(100));
    await expect(readRegularFile(p, 99, { what: "keyring" })).rejects.toMatchObject({
      code: "INVALID_FORMAT",
      message: expect.stringMatching(/keyring .*big is 100 bytes or more, more than the 99 bytes allowed/),
    });
  });

  it("refuses a FIFO without blocking (no writer ever comes)", async () => {
    const p = join(dir, "fifo");
    execFileSync("mkfifo", [p]);
    const t = Date.now();
    await expect(readRegularFile(p)).rejects.toMatchObject({
      code: "IO",
      message: `${p} is a FIFO, not a regular file`,
    });
    await expect(openRegularFile(p)).rejects.toMatchObject({ code: "IO" });
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it("refuses /dev/zero and a directory instead of reading them", async () => {
    await expect(readRegularFile("/dev/zero")).rejects.toMatchObject({
      code: "IO",
      message: "/dev/zero is a character device, not a regular file",
    });
    await expect(readRegularFile(dir)).rejects.toMatchObject({
      code: "IO",
      message: `${dir} is a directory, not a regular file`,
    });
  });

  it("a missing file is NOT_FOUND", async () => {
    await expect(readRegularFile(join(dir, "nope"))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("readRegularFile with pipes allowed", () => {
  const fifo = (name: string) => {
    const p = join(dir, name);
    execFileSync("mkfifo", [p]);
    return p;
  };
  /** A writer in another process (the test process must not block on the open). */
  const writer = (p: string, bytes: number) => {
    const child = spawn("sh", ["-c", `head -c ${bytes} /dev/zero | tr '\\0' x > "$0"`, p], {
      stdio: "ignore",
    });
    // listening from the start: the writer may be gone before the reader has finished
    const exited = new Promise((r) => child.once("exit", r));
    return { kill: () => child.kill(), exited };
  };

  it("reads a FIFO to its end, and a regular file as usual", async () => {
    const p = fifo("pipe-ok");
    const w = writer(p, 3_000_000);
    const b = await readRegularFile(p, 4_000_000, { pipes: true, what: "report" });
    expect(b.length).toBe(3_000_000);
    expect(b.every((c) => c === 0x78)).toBe(true);
    await w.exited;
    writeFileSync(join(dir, "plain"), "hello");
    expect((await readRegularFile(join(dir, "plain"), 5, { pipes: true })).toString()).toBe("hello");
  });

  it("refuses a FIFO that goes on past the cap", async () => {
    const p = fifo("pipe-big");
    const w = writer(p, 3_000_000);
    await expect(readRegularFile(p, 1_000_000, { pipes: true, what: "report" })).rejects.toMatchObject({
      code: "INVALID_FORMAT",
      message: expect.stringMatching(
        /^report .*pipe-big is \d+ bytes or more, more than the 1000000 bytes allowed$/,
      ),
    });
    w.kill();
  });

  it("gives up when the signal aborts, while no writer ever comes", async () => {
    const p = fifo("pipe-none");
    const signal = AbortSignal.timeout(300);
    const t = Date.now();
    await expect(readRegularFile(p, 1000, { pipes: true, signal })).rejects.toMatchObject({
      name: "TimeoutError",
    });
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it("still refuses a device and a directory", async () => {
    await expect(readRegularFile("/dev/zero", 1000, { pipes: true })).rejects.toMatchObject({
      code: "IO",
      message: "/dev/zero is a character device, not a regular file or a pipe",
    });
    await expect(readRegularFile(dir, 1000, { pipes: true })).rejects.toMatchObject({ code: "IO" });
  });
});
