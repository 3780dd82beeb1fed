import { describe, expect, it } from "vitest";
import { SharedBlobs } from "../shared-blobs.js";

const D = "sha256:aa";

describe("SharedBlobs", () => {
  it("the first claim writes; claims while it writes wait, then mount from where it went", async () => {
    const s = new SharedBlobs();
    const first = await s.claim("127.0.0.1:5000", D);
    expect(first.kind).toBe("write");
    const waiting = s.claim("127.0.0.1:5000", D);
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    if (first.kind === "write") first.done({ registry: "127.0.0.1:5000", repository: "a/one" });
    expect(await waiting).toEqual({
      kind: "found",
      origin: { registry: "127.0.0.1:5000", repository: "a/one" },
    });
    expect(s.repositoriesOf("127.0.0.1:5000")).toEqual(["a/one"]);
    // another registry knows nothing of it
    expect((await s.claim("127.0.0.1:5001", D)).kind).toBe("write");
  });

  it("when the write fails, the next claimant writes", async () => {
    const s = new SharedBlobs();
    const first = await s.claim("r", D);
    const second = s.claim("r", D);
    if (first.kind === "write") first.done(undefined);
    const next = await second;
    expect(next.kind).toBe("write");
    // and a third waits for that one
    const third = s.claim("r", D);
    if (next.kind === "write") next.done({ registry: "r", repository: "b" });
    expect(await third).toMatchObject({ kind: "found", origin: { repository: "b" } });
    expect(s.repositoriesOf("r")).toEqual(["b"]);
  });

  it("a wait honours the caller's signal", async () => {
    const s = new SharedBlobs();
    await s.claim("r", D);
    const ac = new AbortController();
    const waiting = s.claim("r", D, ac.signal);
    ac.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
  });
});
