import { describe, expect, it } from "vitest";
import { tuneMalloc } from "../malloc.js";

describe("tuneMalloc", () => {
  it("glibc takes the fixed mmap threshold here (Linux with glibc and koffi), once", () => {
    expect(process.platform).toBe("linux");
    expect(process.env["MALLOC_MMAP_THRESHOLD_"]).toBeUndefined();
    expect(tuneMalloc()).toBe(true);
    expect(tuneMalloc()).toBe(true);
  });
});
