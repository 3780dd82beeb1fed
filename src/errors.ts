/**
 * Typed errors. Every failure the library can foresee is an OcipatchError with a
 * stable `code`; the CLI maps codes to exit codes (EXIT_CODES) and prints `message` as one line.
 */
export type ErrorCode =
  | "USAGE" // bad flags/arguments
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

/**
 * Exit codes of the CLI, by class. Scripts may rely on them: they change only with a
 * CHANGELOG entry. 1 is kept for "the check failed" (`patch -s` found vulnerabilities at or
 * above the threshold, `db update` with a failed source, `db status` without a database) and
 * for anything unforeseen; 2 for usage (as docker and kubescape use them).
 */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  AUTH: 4,
  NETWORK: 5,
  VERIFICATION: 6,
  CONFLICT: 7,
  INTERNAL: 8,
  UNSUPPORTED: 9,
  IO: 10,
  SIGINT: 130,
  SIGTERM: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * The exit code of every error code. A `Record` over `ErrorCode`: an ErrorCode without an
 * exit code here fails typecheck.
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, ExitCode>> = {
  USAGE: EXIT.USAGE,
  REFERENCE_INVALID: EXIT.USAGE,
  TRANSPORT_UNKNOWN: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  PLATFORM_NOT_FOUND: EXIT.NOT_FOUND,
  AUTH_FAILED: EXIT.AUTH,
  // a remote service did not answer, or answered what it should not: retrying later may help
  NETWORK: EXIT.NETWORK,
  TIMEOUT: EXIT.NETWORK,
  REGISTRY: EXIT.NETWORK,
  ENGINE: EXIT.NETWORK,
  // content is not what it claims to be, or not safe to use: retrying does not help
  DIGEST_MISMATCH: EXIT.VERIFICATION,
  SIGNATURE: EXIT.VERIFICATION,
  HOSTILE_LAYER: EXIT.VERIFICATION,
  INVALID_FORMAT: EXIT.VERIFICATION,
  RESOLVE: EXIT.CONFLICT,
  INTERNAL: EXIT.INTERNAL,
  UNSUPPORTED: EXIT.UNSUPPORTED,
  IO: EXIT.IO,
  // the CLI cancels only on its deadline (TIMEOUT) or on a signal (130/143, see exitCodeFor):
  // a cancellation without a signal is unforeseen and does not claim one
  CANCELLED: EXIT.FAILURE,
};

/** Exit codes of a run ended by a signal (128 + the signal number, as shells report them). */
const SIGNAL_EXIT: Readonly<Record<string, ExitCode>> = { SIGINT: EXIT.SIGINT, SIGTERM: EXIT.SIGTERM };

/**
 * Exit code for an error: its code's entry in EXIT_CODES; 130/143 for a run cancelled by
 * SIGINT/SIGTERM (`details.signal`); 1 for anything that is not an OcipatchError.
 */
export function exitCodeFor(e: unknown): ExitCode {
  if (!isOcipatchError(e)) return EXIT.FAILURE;
  if (e.code === "CANCELLED") {
    const sig = e.details?.["signal"];
    if (typeof sig === "string" && SIGNAL_EXIT[sig] !== undefined) return SIGNAL_EXIT[sig];
  }
  return EXIT_CODES[e.code] ?? EXIT.FAILURE;
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
