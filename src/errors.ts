/**
 * Typed errors. Every failure the library can foresee is an OcipatchError with a
 * stable `code`; the CLI maps codes to exit codes and prints `message` as one line.
 */
export type ErrorCode =
  | "USAGE" // bad flags/arguments (exit 2)
  | "REFERENCE_INVALID" // malformed image reference or transport string
  | "TRANSPORT_UNKNOWN"
  | "NOT_FOUND" // manifest/blob/tag/file missing
  | "AUTH_FAILED" // 401/403, bad credentials
  | "NETWORK" // refused, reset, DNS, TLS
  | "TIMEOUT"
  | "REGISTRY" // unexpected registry answer
  | "DIGEST_MISMATCH" // content does not match its digest / size
  | "UNSUPPORTED" // media type, schema 1, OS, ...
  | "PLATFORM_NOT_FOUND"
  | "INVALID_FORMAT" // a parsed document failed validation
  | "HOSTILE_LAYER" // path traversal, bombs, device files
  | "SIGNATURE" // OpenPGP verification failed
  | "IO" // local filesystem
  | "RESOLVE" // dependency resolution failed
  | "CANCELLED"
  | "ENGINE" // a container engine (Docker/Podman API) refused or failed a request
  | "INTERNAL";

export class OcipatchError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable detail (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OcipatchError";
    this.code = code;
    this.details = options?.details;
  }
}

export function isOcipatchError(e: unknown, code?: ErrorCode): e is OcipatchError {
  return e instanceof OcipatchError && (code === undefined || e.code === code);
}

/** Exit codes of a run ended by a signal (128 + the signal number, as shells report them). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/** Exit code for an error: 2 for usage errors, 130/143 for a run interrupted by SIGINT/SIGTERM, 1 otherwise. */
export function exitCodeFor(e: unknown): number {
  if (isOcipatchError(e, "CANCELLED")) {
    const sig = e.details?.["signal"];
    if (typeof sig === "string" && SIGNAL_EXIT[sig] !== undefined) return SIGNAL_EXIT[sig];
  }
  return isOcipatchError(e, "USAGE") ? 2 : 1;
}

/** A one-line description of any thrown value, safe to print. */
export function oneLine(e: unknown): string {
  let msg: string;
  if (e instanceof Error) msg = e.message;
  else msg = String(e);
  return msg.replace(/\s*\n\s*/g, " ").trim();
}

/** Is `e` "not found": NOT_FOUND, or a filesystem ENOENT/ENOTDIR? */
export function isNotFound(e: unknown): boolean {
  if (isOcipatchError(e, "NOT_FOUND")) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** For `.catch()`: "not found" becomes undefined; every other failure is re-thrown (never swallowed). */
export function undefinedIfNotFound(e: unknown): undefined {
  if (isNotFound(e)) return undefined;
  throw e;
}
