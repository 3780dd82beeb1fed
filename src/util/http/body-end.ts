import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";

/**
 * An interceptor for every undici dispatcher ocipatch makes, working around undici 6's HTTP/1
 * parser (nodejs/undici#5360; fixed only in undici 8, which needs Node 22).
 *
 * When a response body is read more slowly than it arrives, the parser pauses (a handler's
 * `onData` returned false). If the connection ends while it is paused, the socket's 'end' finds a
 * paused parser: a keep-alive response whose last bytes had arrived (tinyproxy answers so, then
 * closes after every response) fails with "other side closed" although every byte arrived, and a
 * response after which the connection closes (`Connection: close` or `Proxy-Connection: close`,
 * no length, a transfer coding not ending in chunked, HTTP/1.0) crashes the process with an
 * uncatchable AssertionError, whether its body was whole or cut short. Which download hits it
 * depends on the body's size, so retries fail alike.
 *
 * The parser only pauses when asked, so this handler never asks on the chunk that completes a body
 * of known length (the response stream buffers that one chunk past its high-water mark), nor for a
 * response after which the connection closes (that stream buffers what the reader has not taken
 * yet: such answers are rare, and a registry's blobs and a mirror's files have a length). A chunked
 * body on a kept-alive connection is left alone: its terminator follows the last data, so the
 * parser never pauses at the end of the stream.
 * Left open: an HTTP/1.0 answer without `Connection: close` that closes mid-body while its reader is
 * behind (its version is not visible here).
 */
export function bodyEndInterceptor(dispatch: Dispatcher["dispatch"]): Dispatcher["dispatch"] {
  return (opts, handler) => dispatch(opts, new BodyEndHandler(handler));
}

/**
 * How the response's body ends: at a byte count or a chunked terminator on a connection that stays
 * open, or with the connection's close.
 */
type Framing = { readonly kind: "length"; readonly length: number } | { readonly kind: "chunked" | "close" };

/**
 * The framing its headers give a response (`rawHeaders`: name, value, name, value, ...), as
 * RFC 9112 §6.3 and undici's parser (llhttp, which also honours `Proxy-Connection`) read them.
 */
export function bodyFraming(rawHeaders: readonly (Buffer | string)[] | null | undefined): Framing {
  let length: number | undefined;
  let codings: string[] | undefined;
  let closes = false;
  const h = rawHeaders ?? [];
  for (let i = 0; i + 1 < h.length; i += 2) {
    const name = String(h[i]).toLowerCase();
    const value = String(h[i + 1])
      .trim()
      .toLowerCase();
    const tokens = value.split(",").map((t) => t.trim());
    if (name === "transfer-encoding") codings = [...(codings ?? []), ...tokens];
    else if (name === "content-length" && /^\d+$/.test(value)) length = Number(value);
    else if ((name === "connection" || name === "proxy-connection") && tokens.includes("close"))
      closes = true;
  }
  if (closes) return { kind: "close" };
  // a Transfer-Encoding overrides Content-Length; one not ending in chunked runs to the close
  if (codings !== undefined) return { kind: codings.at(-1) === "chunked" ? "chunked" : "close" };
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
