import { pbkdf2 } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { chunksOf, discard, handOff, readAll } from "../streams.js";

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
