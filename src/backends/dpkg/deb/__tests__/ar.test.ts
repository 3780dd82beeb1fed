import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { readAr } from "../ar.js";

async function members(buf: Buffer, chunk = 7): Promise<Array<{ name: string; data: string; mode: number }>> {
  async function* src() {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  }
  const out = [];
  for await (const m of readAr(src())) {
    const parts: Buffer[] = [];
    for await (const c of m.body) parts.push(c);
    out.push({ name: m.header.name, data: Buffer.concat(parts).toString(), mode: m.header.mode });
  }
  return out;
}

function header(name: string, size: number, mode = "100644"): string {
  return (
    name.padEnd(16) +
    "0".padEnd(12) +
    "0".padEnd(6) +
    "0".padEnd(6) +
    mode.padEnd(8) +
    String(size).padEnd(10) +
    "`\n"
  );
}

describe("ar reader", () => {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-ar-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads what GNU ar writes, long names and odd sizes included", async () => {
    // ORACLE: binutils ar builds the archive
    const files: Record<string, string> = {
      "debian-binary": "2.0\n",
      odd: "abc",
      "a-very-long-member-name-beyond-sixteen.txt": "long name content\n",
      even: "abcd",
    };
    for (const [n, c] of Object.entries(files)) writeFileSync(join(dir, n), c);
    const archive = join(dir, "t.a");
    execFileSync("ar", ["rcS", archive, ...Object.keys(files)], { cwd: dir });
    const got = await members(readFileSync(archive));
    expect(got.map((m) => [m.name, m.data])).toEqual(Object.entries(files));
    const listed = execFileSync("ar", ["t", archive]).toString().trim().split("\n");
    expect(got.map((m) => m.name)).toEqual(listed);
  });

  it("reads BSD #1/<len> names and skips unread bodies", async () => {
    const name = "control.tar.zst-with-a-long-bsd-name";
    const body = "payload!";
    const buf = Buffer.from(
      "!<arch>\n" +
        header("#1/" + name.length, name.length + body.length) +
        name +
        body +
        header("x/", 1) +
        "y\n",
      "latin1",
    );
    const names: string[] = [];
    for await (const m of readAr(
      (async function* () {
        yield buf;
      })(),
    ))
      names.push(m.header.name); // bodies left unread
    expect(names).toEqual([name, "x"]);
    expect((await members(buf, 3))[0]).toMatchObject({ name, data: body });
  });

  it("refuses a bad magic, a corrupt header and a truncated member", async () => {
    const run = async (b: Buffer) => members(b).catch((e) => e);
    const bad = await run(Buffer.from("!<arch>Xnothing"));
    expect(isOcipatchError(bad, "INVALID_FORMAT")).toBe(true);
    const corrupt = await run(Buffer.from(`!<arch>\n${header("a", 2).slice(0, 58)}XX12`));
    expect(isOcipatchError(corrupt, "INVALID_FORMAT")).toBe(true);
    const cut = await run(Buffer.from(`!<arch>\n${header("a", 10)}12345`));
    expect(isOcipatchError(cut, "INVALID_FORMAT")).toBe(true);
    expect((cut as Error).message).toMatch(/truncated/);
    const size = await run(Buffer.from(`!<arch>\n${header("a", 0).replace("0         `", "1x        `")}`));
    expect(isOcipatchError(size, "INVALID_FORMAT")).toBe(true);
  });
});
