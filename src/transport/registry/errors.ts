import { z } from "zod";
import { isOcipatchError, OcipatchError } from "../../errors.js";

/** Turning failed requests into one-line OcipatchErrors that say what failed and where. */

const errorBodySchema = z.looseObject({
  errors: z
    .array(
      z.looseObject({
        code: z.string().optional(),
        message: z.string().optional(),
        detail: z.unknown().optional(),
      }),
    )
    .optional(),
  // token servers
  error: z.string().optional(),
  error_description: z.string().optional(),
  details: z.string().optional(),
});

export interface RegistryErrorEntry {
  readonly code: string | undefined;
  readonly message: string | undefined;
}

/** The `{"errors":[{code,message}]}` entries of a registry error body (empty if none). */
export function parseErrorBody(body: string): RegistryErrorEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return [];
  }
  const r = errorBodySchema.safeParse(doc);
  if (!r.success) return [];
  const out: RegistryErrorEntry[] = (r.data.errors ?? []).map((e) => ({
    code: e.code,
    message: e.message,
  }));
  if (out.length === 0 && (r.data.error || r.data.details)) {
    out.push({ code: r.data.error, message: r.data.error_description ?? r.data.details });
  }
  return out;
}

/** `code: message; code: message`, one line, bounded. */
export function describeErrors(entries: readonly RegistryErrorEntry[]): string {
  const s = entries
    .map((e) => [e.code, e.message].filter((x) => x !== undefined && x !== "").join(": "))
    .filter((x) => x !== "")
    .join("; ");
  return oneLineBounded(s, 300);
}

function oneLineBounded(s: string, max: number): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > max ? `${one.slice(0, max)}…` : one;
}

interface FailureContext {
  /** The registry, as the user named it (`127.0.0.1:5000`). */
  readonly registry: string;
  /** What was being done, e.g. `GET manifest 127.0.0.1:5000/app:1`. */
  readonly what: string;
  /** Whether credentials were sent, and where they came from. */
  readonly credentialSource?: string | undefined;
}

/** An OcipatchError for an unexpected HTTP status. */
export function statusError(
  status: number,
  body: string,
  ctx: FailureContext,
  notFound?: (entries: RegistryErrorEntry[]) => OcipatchError,
): OcipatchError {
  const entries = parseErrorBody(body);
  const said = describeErrors(entries);
  const suffix = said ? `: ${said}` : "";
  const details = { status, registry: ctx.registry, errors: entries };
  if (status === 401) {
    return ctx.credentialSource
      ? new OcipatchError(
          "AUTH_FAILED",
          `authentication failed for registry ${ctx.registry} (HTTP 401): check username and password (credentials from ${ctx.credentialSource})`,
          { details },
        )
      : new OcipatchError(
          "AUTH_FAILED",
          `authentication required for registry ${ctx.registry} (HTTP 401): no credentials found; pass a username and password or log in`,
          { details },
        );
  }
  if (status === 403) {
    return new OcipatchError(
      "AUTH_FAILED",
      `access denied by registry ${ctx.registry} (HTTP 403) for ${ctx.what}${suffix}`,
      { details },
    );
  }
  if (status === 404 && notFound) return notFound(entries);
  if (status === 404) {
    return new OcipatchError("NOT_FOUND", `not found: ${ctx.what} (HTTP 404)${suffix}`, { details });
  }
  if (status === 429) {
    return new OcipatchError(
      "REGISTRY",
      `registry ${ctx.registry} is rate limiting requests (HTTP 429) for ${ctx.what}; retries exhausted${suffix}`,
      { details },
    );
  }
  return new OcipatchError(
    "REGISTRY",
    `registry ${ctx.registry} answered HTTP ${status} to ${ctx.what}${suffix}`,
    { details },
  );
}

const TLS_CERT_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

function errCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Codes of the error and its causes (undici wraps socket errors). */
function codes(e: unknown): string[] {
  const out: string[] = [];
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur; i++) {
    const c = errCode(cur);
    if (c) out.push(c);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

function isTlsCertificateError(e: unknown): boolean {
  return codes(e).some((c) => TLS_CERT_CODES.has(c) || c.startsWith("ERR_TLS_CERT"));
}

/** The peer did not speak TLS (e.g. plain HTTP on the port), so plain HTTP may work. */
export function isTlsProtocolMismatch(e: unknown): boolean {
  const cs = codes(e);
  if (cs.includes("EPROTO") || cs.some((c) => c.startsWith("ERR_SSL_"))) return true;
  if (/wrong version number|packet length too long|unknown protocol/i.test(errMessage(e))) return true;
  return cs.includes("ECONNRESET") || cs.includes("UND_ERR_SOCKET");
}

/** A plain-HTTP request answered by a TLS port: the connection closed, or bytes that are not HTTP. */
export function isPeerSpeaksOtherProtocol(e: unknown): boolean {
  return isTransientNetworkError(e) || codes(e).some((c) => c.startsWith("HPE_"));
}

export function isConnectionRefused(e: unknown): boolean {
  return codes(e).includes("ECONNREFUSED");
}

/** Failures worth retrying: the connection broke, not the request. */
export function isTransientNetworkError(e: unknown): boolean {
  if (isOcipatchError(e)) return false;
  const cs = codes(e);
  return ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "ECONNABORTED", "UND_ERR_CLOSED"].some((c) =>
    cs.includes(c),
  );
}

function isAbortError(e: unknown): boolean {
  const cs = codes(e);
  return (
    (e as Error | null)?.name === "AbortError" || cs.includes("UND_ERR_ABORTED") || cs.includes("ABORT_ERR")
  );
}

/** An OcipatchError for a failure below HTTP (connect, TLS, timeouts, resets). */
export function networkError(
  e: unknown,
  ctx: { host: string; what: string; timeoutMs: number; signal?: AbortSignal | undefined; peer?: string },
): OcipatchError {
  if (isOcipatchError(e)) return e;
  const peer = ctx.peer ?? `registry ${ctx.host}`;
  const secs = `${Math.round(ctx.timeoutMs / 100) / 10}s`;
  if (ctx.signal?.aborted || isAbortError(e)) {
    return new OcipatchError("CANCELLED", `cancelled: ${ctx.what}`, { cause: e });
  }
  const cs = codes(e);
  const opts = { cause: e, details: { host: ctx.host, codes: cs } };
  if (cs.includes("ECONNREFUSED")) {
    return new OcipatchError("NETWORK", `cannot connect to ${peer}: connection refused`, opts);
  }
  if (cs.includes("ENOTFOUND") || cs.includes("EAI_AGAIN")) {
    return new OcipatchError("NETWORK", `cannot connect to ${peer}: host name not found`, opts);
  }
  if (cs.includes("EHOSTUNREACH") || cs.includes("ENETUNREACH")) {
    return new OcipatchError("NETWORK", `cannot connect to ${peer}: host unreachable`, opts);
  }
  if (cs.includes("UND_ERR_CONNECT_TIMEOUT") || cs.includes("ETIMEDOUT")) {
    return new OcipatchError("TIMEOUT", `timed out after ${secs} connecting to ${peer}`, opts);
  }
  if (cs.includes("UND_ERR_HEADERS_TIMEOUT")) {
    return new OcipatchError(
      "TIMEOUT",
      `timed out after ${secs} waiting for ${peer} to answer ${ctx.what}`,
      opts,
    );
  }
  if (cs.includes("UND_ERR_BODY_TIMEOUT")) {
    return new OcipatchError(
      "TIMEOUT",
      `timed out after ${secs} waiting for data from ${peer} during ${ctx.what}`,
      opts,
    );
  }
  if (isTlsCertificateError(e)) {
    return new OcipatchError(
      "NETWORK",
      `TLS error talking to ${peer}: ${oneLineBounded(errMessage(e), 160)}; trust its CA with OCIPATCH_CA_FILE (or SSL_CERT_FILE), or use the insecure option`,
      opts,
    );
  }
  if (cs.includes("EPROTO") || cs.some((c) => c.startsWith("ERR_SSL_"))) {
    return new OcipatchError(
      "NETWORK",
      `TLS handshake with ${peer} failed: ${oneLineBounded(errMessage(e), 160)}`,
      opts,
    );
  }
  if (isTransientNetworkError(e)) {
    return new OcipatchError("NETWORK", `connection to ${peer} was reset during ${ctx.what}`, opts);
  }
  return new OcipatchError(
    "NETWORK",
    `network error talking to ${peer} during ${ctx.what}: ${oneLineBounded(errMessage(e), 160)}`,
    opts,
  );
}
