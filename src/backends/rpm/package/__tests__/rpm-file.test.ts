import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../../../errors.js";
import { readRpmFile } from "../rpm-file.js";

/**
 * Hostile lead and header sizes; real packages (rpmbuild, rpmsign) are read against rpm in
 * test/integration/rpm.package.test.ts.
 */
const dir = mkdtempSync(join(tmpdir(), "ocipatch-rpmfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function lead(sigType = 5): Buffer {
  const b = Buffer.alloc(96);
  Buffer.from([0xed, 0xab, 0xee, 0xdb, 3, 0]).copy(b);
  b.write("x-1-1", 10);
  b.writeUInt16BE(sigType, 78);
  return b;
}

function headerIntro(il: number, dl: number): Buffer {
  const b = Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  b.writeUInt32BE(il, 8);
  b.writeUInt32BE(dl, 12);
  return b;
}

async function refused(name: string, bytes: Buffer): Promise<OcipatchError> {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const e = await readRpmFile(file).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OcipatchError);
  expect((e as Error).message).not.toContain("\n");
  return e as OcipatchError;
}

describe("readRpmFile", () => {
  it("refuses hostile leads and header sizes before allocating them", async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ["short", Buffer.from("hello"), /truncated/],
      ["magic", Buffer.alloc(200), /no rpm lead magic/],
      ["sigtype", Buffer.concat([lead(1), headerIntro(1, 0)]), /lead signature type 1/],
      ["il", Buffer.concat([lead(), headerIntro(0x10000, 0)]), /65536 index entries/],
      ["dl", Buffer.concat([lead(), headerIntro(1, 0x7fffffff)]), /2147483647 data bytes/],
      ["past the end", Buffer.concat([lead(), headerIntro(1000, 1000)]), /truncated/],
      ["no header magic", Buffer.concat([lead(), Buffer.alloc(32)]), /signature header has no header magic/],
    ];
    for (const [name, bytes, msg] of cases) {
      const e = await refused(`${name}.rpm`, bytes);
      expect(e.code, name).toBe("INVALID_FORMAT");
      expect(e.message, name).toMatch(msg);
    }
  });

  it("says NOT_FOUND for a missing file", async () => {
    const e = await readRpmFile(join(dir, "missing.rpm")).catch((x: unknown) => x);
    expect((e as OcipatchError).code).toBe("NOT_FOUND");
  });
});
