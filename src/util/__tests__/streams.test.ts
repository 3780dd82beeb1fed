import { pbkdf2, randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { chunksOf, coalesce, discard, handOff, readAll } from "../streams.js";

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe("chunksOf", () => {
  it("yields each chunk as it was pushed, also when several wait (for await would join them)", async () => {
    const s = new PassThrough();
    for (const t of ["ab", "cde", "f"]) s.write(t);
    s.end();
    await new Promise((r) => setImmediate(r));
    expect(s.readableLength).toBe(6);
    const got = await collect(chunksOf(s));
    expect(got.map((b) => b.toString())).toEqual(["ab", "cde", "f"]);
    expect(got.every((b) => Buffer.isBuffer(b))).toBe(true);
  });

  it("pauses the stream while more than maxQueued bytes wait, and resumes as they are taken", async () => {
    let pushed = 0;
    const s = new Readable({
      highWaterMark: 4,
      read() {
        if (pushed === 100) this.push(null);
        else {
          pushed++;
          this.push(Buffer.alloc(10, pushed));
        }
      },
    });
    const it = chunksOf(s, 30);
    const first = await it.next();
    expect(first.value?.[0]).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    // while the reader waits, the queue stops a little past 30 bytes: the stream is paused
    expect(s.isPaused()).toBe(true);
    expect(pushed).toBeLessThan(10);
    const rest: number[] = [];
    for await (const c of it) rest.push(c[0] as number);
    expect(rest).toEqual(Array.from({ length: 99 }, (_, i) => i + 2));
  });

  it("yields what arrived before an error, then throws the error", async () => {
    const s = new PassThrough();
    s.write("one");
    const it = chunksOf(s);
    expect((await it.next()).value?.toString()).toBe("one");
    s.destroy(new Error("boom"));
    await expect(it.next()).rejects.toThrow("boom");
  });

  it("throws when the stream closes before its end", async () => {
    const s = new PassThrough();
    s.write("x");
    setImmediate(() => s.destroy());
    await expect(collect(chunksOf(s))).rejects.toMatchObject({ code: "ERR_STREAM_PREMATURE_CLOSE" });
  });

  it("destroys the stream when the reader stops early", async () => {
    const s = new PassThrough();
    s.write("a");
    s.write("b");
    for await (const c of chunksOf(s)) {
      expect(c.toString()).toBe("a");
      break;
    }
    expect(s.destroyed).toBe(true);
  });

  it("turns string chunks into buffers", async () => {
    const s = Readable.from(["x", "yz"], { objectMode: true });
    expect((await collect(chunksOf(s))).map((b) => b.toString())).toEqual(["x", "yz"]);
  });
});

describe("readAll", () => {
  it("reads a whole stream and refuses one over its limit", async () => {
    expect((await readAll(Readable.from([Buffer.from("ab"), Buffer.from("c")]))).toString()).toBe("abc");
    await expect(readAll(Readable.from([Buffer.alloc(8), Buffer.alloc(8)]), 10)).rejects.toThrow(
      "content larger than 10 bytes",
    );
  });
});

describe("discard", () => {
  it("after a pipeline into a file fails at once, waits until the file's open ran: a removal then holds", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ocipatch-discard-"));
    try {
      for (let i = 0; i < 10; i++) {
        // libuv's threadpool (where the file is opened) kept busy: the pipeline rejects before the open
        const busy = Promise.all(
          Array.from({ length: 8 }, () => new Promise((r) => pbkdf2("x", "y", 30_000, 32, "sha256", r))),
        );
        const path = join(dir, `f${i}`);
        const out = createWriteStream(path, { flags: "wx" });
        const source = new Readable({
          read() {
            this.destroy(new Error("bad source"));
          },
        });
        await expect(pipeline(source, out)).rejects.toThrow("bad source");
        await discard(out);
        expect(existsSync(path)).toBe(true);
        await rm(path);
        await busy;
        expect(existsSync(path)).toBe(false);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("closes a file stream no pipeline ran into (its source failed to open): nothing waits for ever", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ocipatch-discard-"));
    try {
      const out = createWriteStream(join(dir, "f"), { flags: "wx" });
      await discard(out);
      expect(out.closed).toBe(true);
      await discard(out); // again: already closed
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("handOff", () => {
  it("passes chunks on in a later turn, not while the writer's write runs, in order and unchanged", async () => {
    const h = handOff();
    const seen: string[] = [];
    h.on("data", (c: Buffer) => seen.push(c.toString()));
    const ended = new Promise((r) => h.on("end", r));
    h.write("one");
    seen.push("(write returned)");
    h.write("two");
    h.end("three");
    await ended;
    expect(seen).toEqual(["(write returned)", "one", "two", "three"]);
  });

  it("carries a layer's bytes whole", async () => {
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(70_000 + i, i));
    const got = await readAll(Readable.from(parts).pipe(handOff()));
    expect(got.equals(Buffer.concat(parts))).toBe(true);
  });
});

describe("coalesce", () => {
  /** The pieces `coalesce(size)` makes of `chunks`, each as pushed. */
  async function piecesOf(chunks: Buffer[], size: number): Promise<Buffer[]> {
    const out: Buffer[] = [];
    const c = coalesce(size, 1);
    c.on("data", (b: Buffer) => out.push(b));
    await pipeline(Readable.from(chunks), c);
    return out;
  }

  it("hands on pieces of exactly `size` bytes, the last one shorter, the bytes unchanged", async () => {
    const data = randomBytes(300_001);
    // chunks smaller than a piece, one exactly a piece, and larger ones
    const sizes = [1, 7, 40_000, 150_000, 3, 65_536, 9_999, 200_000];
    const chunks: Buffer[] = [];
    for (let at = 0, k = 0; at < data.length; k++) {
      const n = sizes[k % sizes.length]!;
      chunks.push(data.subarray(at, at + n));
      at += n;
    }
    const pieces = await piecesOf(chunks, 65_536);
    expect(Buffer.concat(pieces).equals(data)).toBe(true);
    expect(pieces.slice(0, -1).every((p) => p.length === 65_536)).toBe(true);
    expect(pieces.at(-1)!.length).toBe(300_001 % 65_536);
  });

  it("hands on nothing for an empty stream, and one piece for a short one", async () => {
    expect(await piecesOf([], 1024)).toEqual([]);
    expect(await piecesOf([Buffer.from("ab"), Buffer.from("c")], 1024)).toEqual([Buffer.from("abc")]);
  });
});
