import { EXIT, type ExitCode } from "../errors.js";

/** What each exit code means, for `--help` (which error codes give which: EXIT_CODES in src/errors.ts). */
const MEANING: ReadonlyArray<readonly [ExitCode, string]> = [
  [EXIT.OK, "success (also: nothing to patch)"],
  [EXIT.FAILURE, "-s/--severity-threshold exceeded, a db source failed, or an unforeseen error"],
  [EXIT.USAGE, "usage: bad flags or arguments, malformed reference or transport"],
  [EXIT.NOT_FOUND, "not found: image, tag, blob, file or platform"],
  [EXIT.AUTH, "authentication or authorization failed"],
  [EXIT.NETWORK, "network, timeout, or a registry/engine answered an error"],
  [EXIT.VERIFICATION, "verification: digest, signature, hostile or malformed content"],
  [EXIT.CONFLICT, "packages cannot be brought to a fixed version (dependency resolution)"],
  [EXIT.INTERNAL, "internal error (a bug: please report it)"],
  [EXIT.UNSUPPORTED, "unsupported image, media type, OS or feature"],
  [EXIT.IO, "local file system: cannot read or write a file"],
  [EXIT.SIGINT, "interrupted by SIGINT"],
  [EXIT.SIGTERM, "terminated by SIGTERM"],
];

/** The "Exit codes" epilogue of `ocipatch --help` and `ocipatch patch --help`. */
export function exitCodesHelp(): string {
  const lines = MEANING.map(([code, meaning]) => `  ${String(code).padStart(3)}  ${meaning}`);
  return `\nExit codes:\n${lines.join("\n")}\n`;
}
