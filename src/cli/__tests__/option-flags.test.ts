import { describe, expect, it } from "vitest";
import { OcipatchError, undefinedIfNotFound } from "../../errors.js";
import { flagsOf } from "../option-flags.js";

describe("errors name options; the CLI shows flags", () => {
  it("maps details.option (a name or a list) to flags", () => {
    expect(flagsOf(new OcipatchError("USAGE", "x", { details: { option: "suites" } }))).toEqual(["--suites"]);
    expect(
      flagsOf(new OcipatchError("NOT_FOUND", "x", { details: { option: ["ignoreErrors", "suites"] } })),
    ).toEqual(["--ignore-errors", "--suites"]);
    expect(flagsOf(new OcipatchError("IO", "x"))).toEqual([]);
    expect(flagsOf(new Error("x"))).toEqual([]);
  });

  it("undefinedIfNotFound swallows only not-found", async () => {
    await expect(
      Promise.reject(new OcipatchError("NOT_FOUND", "gone")).catch(undefinedIfNotFound),
    ).resolves.toBe(undefined);
    const enoent = Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    await expect(Promise.reject(enoent).catch(undefinedIfNotFound)).resolves.toBe(undefined);
    const eacces = Object.assign(new Error("EACCES"), { code: "EACCES" });
    await expect(Promise.reject(eacces).catch(undefinedIfNotFound)).rejects.toBe(eacces);
    await expect(
      Promise.reject(new OcipatchError("HOSTILE_LAYER", "bad")).catch(undefinedIfNotFound),
    ).rejects.toThrow("bad");
  });
});
