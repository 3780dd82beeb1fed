import { execFileSync } from "node:child_process";
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
