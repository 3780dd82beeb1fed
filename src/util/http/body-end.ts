import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";

/**
 * An interceptor for every undici dispatcher ocipatch makes, working around undici 6's HTTP/1
 * parser (nodejs/undici#5360; fixed only in undici 8, which needs Node 22).
 *
 * When a response body is read more slowly than it arrives, the parser pauses (a handler's
 * `onData` returned false). If it pauses on the body's LAST bytes and the server closes the
 * connection right after them, the socket's 'end' finds a paused parser: a keep-alive response
 * (tinyproxy answers so, then closes after every response) fails with "other side closed" although
 * every byte arrived, and a `Connection: close` response crashes the process with an uncatchable
 * AssertionError. Which download hits it depends on the body's size, so retries fail alike.
 *
 * The parser only pauses when asked, so this handler never asks on the chunk that completes a body
 * of known length (the response stream buffers that one chunk past its high-water mark), nor for a
 * body whose end is the connection's close (no length, not chunked: it cannot know its last chunk).
 * A chunked body is left alone: its terminator follows the last data, so the parser never pauses at
 * the end of the stream.
 */
export function bodyEndInterceptor(dispatch: Dispatcher["dispatch"]): Dispatcher["dispatch"] {
  return (opts, handler) => dispatch(opts, new BodyEndHandler(handler));
}

/** How the response's body ends: at a byte count, at a chunked terminator, or at the connection's close. */
type Framing = { readonly kind: "length"; readonly length: number } | { readonly kind: "chunked" | "close" };

/** The framing its headers give a response (`rawHeaders`: name, value, name, value, ...). */
export function bodyFraming(rawHeaders: readonly (Buffer | string)[] | null | undefined): Framing {
  let length: number | undefined;
  let chunked = false;
  const h = rawHeaders ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = String(h[i]).toLowerCase();
    const value = String(h[i + 1]).trim();
    if (name === "transfer-encoding") chunked = true;
    else if (name === "content-length" && /^\d+$/.test(value)) length = Number(value);
  }
  // a Transfer-Encoding overrides Content-Length (RFC 9112 §6.3)
  if (chunked) return { kind: "chunked" };
  return length === undefined ? { kind: "close" } : { kind: "length", length };
}

class BodyEndHandler implements Dispatcher.DispatchHandlers {
  private framing: Framing = { kind: "chunked" };
  private received = 0;

  constructor(private readonly inner: Dispatcher.DispatchHandlers) {}

  onConnect(abort: (err?: Error) => void): void {
    this.inner.onConnect?.(abort);
  }

  onError(err: Error): void {
    this.inner.onError?.(err);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Duplex): void {
    this.inner.onUpgrade?.(statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.framing = bodyFraming(headers);
    this.received = 0;
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    this.received += chunk.length;
    const more = this.inner.onData?.(chunk) ?? true;
    if (more) return true;
    const f = this.framing;
    if (f.kind === "close") return true;
    if (f.kind === "length" && this.received >= f.length) return true;
    return false;
  }

  onComplete(trailers: string[] | null): void {
    this.inner.onComplete?.(trailers);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.inner.onBodySent?.(chunkSize, totalBytesSent);
  }
}
