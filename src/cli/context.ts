/** What a command needs from its environment; tests pass their own streams. */
export interface CliContext {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Set by a command that wants a non-zero exit without throwing. */
  exitCode?: number;
}

export function createContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
