import { describe, expect, it } from "vitest";
import { exitCodeFor, isOcipatchError } from "../../errors.js";
import { cancelledError } from "../commands/patch-cancelled.js";

const run = { image: "reg/app:1", destination: "reg/app:1-patched", timeoutMs: 300_000 };

describe("the line for a cancelled patch run tells what happened to the destination", () => {
  it("deadline before the write: nothing was written", () => {
    const e = cancelledError(undefined, { ...run, stage: "before", interrupted: undefined });
    expect(isOcipatchError(e, "TIMEOUT")).toBe(true);
    expect(e.message).toBe("patching reg/app:1 did not finish within 5m0s (--timeout); nothing was written");
    expect(exitCodeFor(e)).toBe(5);
  });

  it("deadline during the re-scan, after the write: says it was written", () => {
    const e = cancelledError(undefined, { ...run, stage: "written", interrupted: undefined });
    expect(e.message).toBe("wrote reg/app:1-patched, but the re-scan did not finish within 5m0s (--timeout)");
    expect(e.message).not.toContain("nothing was written");
  });

  it("deadline during the write: unchanged or whole, never a part", () => {
    const e = cancelledError(undefined, { ...run, stage: "writing", interrupted: undefined });
    expect(e.message).toContain(
      "the write to reg/app:1-patched was cut short: it is unchanged or holds the whole patched image",
    );
  });

  it.each([
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)("%s: CANCELLED, exit %i", (signal, code) => {
    const e = cancelledError(undefined, { ...run, stage: "written", interrupted: { signal } });
    expect(isOcipatchError(e, "CANCELLED")).toBe(true);
    expect(e.message).toBe(
      `patching reg/app:1 was interrupted by ${signal}; reg/app:1-patched was written, but the re-scan did not finish`,
    );
    expect(exitCodeFor(e)).toBe(code);
  });
});
