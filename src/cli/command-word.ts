/**
 * The word that names the command of a run: the first argument that is not an option (the
 * program's own options take no value). Shared by the CLI and the launcher's code cache, which
 * must agree on it before the CLI is loaded.
 */
export function commandWord(argv: readonly string[]): string | undefined {
  return argv.find((a) => !a.startsWith("-"));
}

/** Whether the run asks for help (`-h`, `--help`) rather than doing its command's work. */
export function asksForHelp(argv: readonly string[]): boolean {
  return argv.some((a) => a === "-h" || a === "--help");
}
