import { describe, expect, it } from "vitest";
import { once } from "../once.js";

describe("once", () => {
  it("runs its load on the first call only and keeps the result, undefined included", () => {
    let calls = 0;
    const none = once(() => {
      calls++;
      return undefined;
    });
    expect(none()).toBeUndefined();
    expect(none()).toBeUndefined();
    expect(calls).toBe(1);
  });

  it("keeps a promise, so concurrent callers share one load", async () => {
    let calls = 0;
    const lib = once(async () => {
      calls++;
      return { name: "lib" };
    });
    const [a, b] = await Promise.all([lib(), lib()]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });
});
