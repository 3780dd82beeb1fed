import { describe, expect, it } from "vitest";
import { parseByteSize } from "../byte-size.js";

describe("parseByteSize", () => {
  it("reads bytes, decimal and binary units, in any case, with or without a blank", () => {
    expect(parseByteSize("0")).toBe(0);
    expect(parseByteSize("1234")).toBe(1234);
    expect(parseByteSize("10B")).toBe(10);
    expect(parseByteSize("2 GB")).toBe(2_000_000_000);
    expect(parseByteSize("512MiB")).toBe(512 * 1024 * 1024);
    expect(parseByteSize("1.5gib")).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize(" 3 KiB ")).toBe(3072);
    expect(parseByteSize("1TB")).toBe(1e12);
    expect(parseByteSize("0.5KB")).toBe(500);
  });

  it("refuses what is not one size", () => {
    for (const bad of ["", "GiB", "-1GiB", "1 G", "1K", "1e9", "1,5GB", "1 GiB 2", "0x10", "9".repeat(30)])
      expect(parseByteSize(bad), bad).toBeUndefined();
  });
});
