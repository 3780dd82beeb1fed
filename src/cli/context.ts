/** What a command needs from its environment; tests pass their own streams. */
export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Set by a command that wants a non-zero exit without throwing. */
  exitCode?: number;
  /** `--debug` (or `OCIPATCH_DEBUG=1`): stack traces and `[debug]` lines. Set by `main`. */
  debug?: boolean;
  /**
   * Aborted when the process receives SIGINT or SIGTERM (reason: an `Interrupted`). Only set
   * by the process entry point; a command that uses it sets `handlesInterrupt` so that the
   * signal lets it clean up instead of ending the process at once.
   */
  interrupt?: AbortSignal;
  handlesInterrupt?: boolean;
}

/** The reason of `CliContext.interrupt`. */
export interface Interrupted {
  readonly signal: "SIGINT" | "SIGTERM";
}

export function createContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
