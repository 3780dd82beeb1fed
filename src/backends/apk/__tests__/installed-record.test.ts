import { describe, expect, it } from "vitest";
import {
  buildApk,
  makeTestKey,
  type PackageSpec,
  repositorySpecs,
} from "../../../../test/harness/apk/build.js";
import { installedRecordOf } from "../installed-record.js";
import { readApkPackage } from "../package.js";
import { parseApkKey } from "../signature.js";

const key = makeTestKey();
const keys = [parseApkKey(key.name, key.publicPem, "test key")];
const musl = repositorySpecs("fixes").find((p) => p.name === "musl") as PackageSpec;

function recordOf(spec: PackageSpec) {
  const built = buildApk(spec, key);
  return installedRecordOf(readApkPackage(built.bytes, { keys, source: "musl.apk" }), built.bytes.length);
}

describe("apk installed record of a package", () => {
  it("a file at the root is written under an empty F: and read back", () => {
    const rec = recordOf({
      ...musl,
      files: [...musl.files, { path: "/rootfile", content: Buffer.from("x") }],
    });
    const root = rec.dirs.find((d) => d.name === "");
    expect(root?.files.map((f) => f.path)).toEqual(["/rootfile"]);
  });

  it("T:, U:, L: are written even when empty (apk_pkg_write_index_header)", () => {
    const rec = recordOf({ ...musl, url: "" });
    expect(rec.lines.map((l) => l.key).slice(0, 9)).toEqual(["C", "P", "V", "A", "S", "I", "T", "U", "L"]);
    expect(rec.lines.find((l) => l.key === "U")?.value).toBe("");
  });
});
