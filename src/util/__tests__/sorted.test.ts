import { describe, expect, it } from "vitest";
import { rangeAt } from "../sorted.js";

describe("rangeAt", () => {
  it("is the last start at most the value, as a linear search finds it", () => {
    const starts = [0, 3, 3, 10, 64, 65];
    for (let v = 0; v < 70; v++) {
      let expected = 0;
      starts.forEach((s, i) => {
        if (s <= v) expected = i;
      });
      expect(rangeAt(starts, v), `value ${v}`).toBe(expected);
    }
    expect(rangeAt([], 5)).toBe(0);
    expect(rangeAt([4], 1)).toBe(0);
  });
});
