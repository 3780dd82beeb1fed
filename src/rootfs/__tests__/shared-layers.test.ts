import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OcipatchError } from "../../errors.js";
import type { Layer } from "../../image/image.js";
import { LayerIndex } from "../layer-index.js";
import { SharedLayers } from "../shared-layers.js";

const dir = mkdtempSync(join(tmpdir(), "shared-layers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Only the fields SharedLayers reads. */
function layer(n: number, size = 1000): Layer {
  const hex = n.toString(16).padStart(64, "0");
  return { diffId: `sha256:${hex}`, digest: `sha256:${hex}`, size, compression: "gzip" } as unknown as Layer;
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const built = (file: string, captured = 0) => {
  writeFileSync(file, "blob");
  const idx = new LayerIndex(0, "test layer");
  idx.capturedBytes = captured;
  return { index: idx, kept: true };
};

describe("SharedLayers", () => {
  it("builds a layer once: concurrent first uses wait for the one read", async () => {
    const shared = new SharedLayers(mkdtempSync(join(dir, "a-")));
    const gate = deferred<void>();
    let calls = 0;
    const load = async (file: string) => {
      calls++;
      await gate.promise;
      return built(file);
    };
    const all = Promise.all([1, 2, 3].map(() => shared.acquire(layer(1), "v", load)));
    await new Promise((r) => setTimeout(r, 10));
    gate.resolve();
    const hs = await all;
    expect(calls).toBe(1);
    expect(new Set(hs.map((h) => h.index)).size).toBe(1);
    expect(hs[0]!.file).toBeDefined();
    expect(shared.stats().loads.get(layer(1).diffId)).toBe(1);
    expect(shared.stats().hits).toBe(2);
    // another capture variant is another index
    await shared.acquire(layer(1), "w", async (f) => built(f));
    expect(shared.stats().loads.get(layer(1).diffId)).toBe(2);
  });

  it("does not keep a failure: the waiters read again, and a later use reads again", async () => {
    const shared = new SharedLayers(mkdtempSync(join(dir, "b-")));
    const gate = deferred<void>();
    let calls = 0;
    const failing = async () => {
      calls++;
      await gate.promise;
      throw new OcipatchError("NETWORK", "connection reset");
    };
    const first = shared.acquire(layer(2), "v", failing);
    const waiter = shared.acquire(layer(2), "v", async (f) => {
      calls++;
      return built(f);
    });
    gate.resolve();
    await expect(first).rejects.toThrow("connection reset");
    const h = await waiter;
    expect(h.index).toBeInstanceOf(LayerIndex);
    expect(calls).toBe(2);
    // now cached
    await shared.acquire(layer(2), "v", failing);
    expect(calls).toBe(2);
  });

  it("a waiter's own signal ends its wait without failing the read", async () => {
    const shared = new SharedLayers(mkdtempSync(join(dir, "c-")));
    const gate = deferred<void>();
    const reading = shared.acquire(layer(3), "v", async (f) => {
      await gate.promise;
      return built(f);
    });
    const ac = new AbortController();
    const waiting = shared.acquire(layer(3), "v", async (f) => built(f), ac.signal);
    ac.abort(new OcipatchError("TIMEOUT", "deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    gate.resolve();
    expect((await reading).index).toBeInstanceOf(LayerIndex);
    expect(shared.stats().loads.get(layer(3).diffId)).toBe(1);
  });

  it("keeps used entries, evicts unused ones least recently used first beyond the limits", async () => {
    const shared = new SharedLayers(mkdtempSync(join(dir, "d-")), { maxBlobBytes: 2500 });
    const hs = [];
    for (const n of [10, 11, 12]) hs.push(await shared.acquire(layer(n), "v", async (f) => built(f)));
    // all in use: nothing evicted although over the limit
    expect(shared.stats().evictions).toBe(0);
    for (const h of hs) expect(existsSync(h.file!)).toBe(true);
    hs[1]!.release();
    hs[0]!.release();
    hs[2]!.release();
    hs[2]!.release(); // idempotent
    await new Promise((r) => setTimeout(r, 20));
    // 3000 bytes unused > 2500: the least recently released (layer 11) goes, with its blob copy
    expect(shared.stats().evictions).toBe(1);
    expect(existsSync(hs[1]!.file!)).toBe(false);
    expect(existsSync(hs[0]!.file!)).toBe(true);
    await shared.acquire(layer(11), "v", async (f) => built(f));
    expect(shared.stats().loads.get(layer(11).diffId)).toBe(2);
    await shared.acquire(layer(10), "v", async (f) => built(f));
    expect(shared.stats().loads.get(layer(10).diffId)).toBe(1);
  });

  it("bounds the memory of unused indexes", async () => {
    const shared = new SharedLayers(mkdtempSync(join(dir, "e-")), { maxIndexBytes: 1500 });
    const a = await shared.acquire(layer(20), "v", async (f) => built(f, 1000));
    const b = await shared.acquire(layer(21), "v", async (f) => built(f, 1000));
    a.release();
    b.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(shared.stats().evictions).toBe(1);
  });
});
