import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import { OcipatchError } from "../../errors.js";
import { redactUrl } from "./redact.js";

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
 * What such a stream buffers is bounded: a body without a length whose stream holds more than
 * `maxAhead` bytes its reader has not taken is stopped with an error, so a server cannot fill the
 * memory with a body that never ends (`request()`'s stream, which undici's handler keeps as `res`;
 * a body another API reads is not bounded).
 * Left open: an HTTP/1.0 answer without `Connection: close` that closes mid-body while its reader is
 * behind (its version is not visible here).
 */
export const bodyEndInterceptor: Dispatcher.DispatcherComposeInterceptor = boundedBodyEnd(64 * 1024 * 1024);

/** The interceptor with another bound on what a body without a length may hold unread. */
export function boundedBodyEnd(maxAhead: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) =>
    dispatch(
      opts,
      new BodyEndHandler(
        handler,
        maxAhead,
        `${opts.method} ${redactUrl(`${opts.origin ?? ""}${opts.path}`)}`,
      ),
    );
}

/**
 * How the response's body ends: at a byte count or a chunked terminator on a connection that stays
 * open, or with the connection's close (after `length` bytes when it says so).
 */
type Framing =
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  | { readonly kind: "close"; readonly length?: number };

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
  // a Transfer-Encoding overrides Content-Length; one not ending in chunked runs to the close
  if (codings !== undefined)
    return codings.at(-1) === "chunked" && !closes ? { kind: "chunked" } : { kind: "close" };
  if (length === undefined) return { kind: "close" };
  return closes ? { kind: "close", length } : { kind: "length", length };
}

class BodyEndHandler implements Dispatcher.DispatchHandlers {
  private framing: Framing = { kind: "chunked" };
  private received = 0;
  private abort: ((err?: Error) => void) | undefined;

  constructor(
    private readonly inner: Dispatcher.DispatchHandlers,
    private readonly maxAhead: number,
    /** The request, as errors name it. */
    private readonly shown: string,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
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
    if (f.kind === "length") return this.received >= f.length;
    if (f.kind === "chunked") return false;
    const unread = unreadOf(this.inner);
    if (f.length === undefined && unread !== undefined && unread > this.maxAhead) {
      this.abort?.(
        new OcipatchError(
          "NETWORK",
          `${this.shown}: the answer, without a length, holds more than ${this.maxAhead} bytes its reader has not taken; stopped`,
        ),
      );
    }
    return true;
  }

  onComplete(trailers: string[] | null): void {
    this.inner.onComplete?.(trailers);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.inner.onBodySent?.(chunkSize, totalBytesSent);
  }
}

/** What the response stream of undici's `request()` handler holds unread; undefined for other handlers. */
function unreadOf(handler: Dispatcher.DispatchHandlers): number | undefined {
  const res = (handler as { res?: unknown }).res;
  if (typeof res !== "object" || res === null) return undefined;
  const n = (res as { readableLength?: unknown }).readableLength;
  return typeof n === "number" ? n : undefined;
}
