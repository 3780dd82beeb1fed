import { Command, CommanderError } from "commander";
import { EXIT, exitCodeFor, isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import { VERSION } from "../version.js";
import { commandWord } from "./command-word.js";
import { registerCommands } from "./commands/index.js";
import { type CliContext, createContext, type Interrupted } from "./context.js";
import { exitCodesHelp } from "./exit-codes.js";
import { flagsOf } from "./option-flags.js";
import { redact, secretsInArgv } from "./registry-flags.js";

// the launcher (bin/ocipatch) keeps a code cache only for a command word that names a command
export { COMMAND_NAMES } from "./commands/index.js";

/** Passwords in the environment that must never be printed either. */
const SECRET_ENV = ["OCIPATCH_PASSWORD", "KUBESCAPE_REGISTRY_PASSWORD", "KUBESCAPE_REGISTRY_TOKEN"];

function secretsOf(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const fromEnv = SECRET_ENV.map((k) => env[k]).filter((v): v is string => v !== undefined && v.length >= 4);
  return [...secretsInArgv(argv), ...fromEnv].sort((a, b) => b.length - a.length);
}

function wantsDebug(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return argv.includes("--debug") || env["OCIPATCH_DEBUG"] === "1";
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], ctx: CliContext = createContext()): Promise<number> {
  const debug = wantsDebug(argv, ctx.env);
  ctx.debug = debug;
  // values of credential flags (and variables) never reach any message, even when a flag is misspelled
  const secrets = secretsOf(argv, ctx.env);
  const program = new Command("ocipatch");
  program
    .description(
      "Find and fix OS-level vulnerabilities in container images: no daemon, no root, no emulation.",
    )
    // `-v` is the program's only before any command word; after one it is the command's
    // (`patch -v` is kubescape's --verbose)
    .version(VERSION, "--version", "print the version (also -v)")
    .option("--debug", "show stack traces and debug logs")
    .addHelpText("after", exitCodesHelp())
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(redact(s, secrets)),
      // usage errors: one line, like every other error
      outputError: (s, write) =>
        write(`[error] ${oneLine(s.replace(/^error: /, ""))} (run with --help for usage)\n`),
    });
  try {
    const command = commandWord(argv);
    // `ocipatch --version` (or `-v` as the first word) needs no command loaded
    if (command !== undefined || !argv.some((a) => a === "-v" || a === "--version")) {
      await registerCommands(program, ctx, command);
    }
    await program.parseAsync(argv[0] === "-v" ? ["--version", ...argv.slice(1)] : argv, { from: "user" });
    return ctx.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0
      if (e.exitCode === 0) return EXIT.OK;
      return EXIT.USAGE;
    }
    reportError(e, ctx, debug, secrets);
    return exitCodeFor(e);
  }
}

/** One line on stderr (`[error] ...`); the stack (and causes) only with --debug. Secrets are masked. */
export function reportError(
  e: unknown,
  ctx: CliContext,
  debug: boolean,
  secrets: readonly string[] = [],
): void {
  const prefix = isOcipatchError(e) ? "" : "unexpected error: ";
  const flags = flagsOf(e);
  const see = flags.length > 0 ? ` (${flags.join(", ")})` : "";
  ctx.stderr.write(redact(`[error] ${prefix}${oneLine(e)}${see}\n`, secrets));
  if (debug && e instanceof Error && e.stack) {
    ctx.stderr.write(redact(`${e.stack}\n`, secrets));
    let cause = e.cause;
    while (cause instanceof Error) {
      ctx.stderr.write(redact(`caused by: ${cause.stack ?? cause.message}\n`, secrets));
      cause = cause.cause;
    }
  }
}

/**
 * The process entry point used by bin/ocipatch: runs `main` on the real streams and
 * keeps the process well-behaved around it. A reader that goes away early
 * (`ocipatch inspect x | head -1`) ends the process quietly with exit code 0 instead of
 * an EPIPE stack trace; anything thrown outside `main`'s control is still one line.
 */
export async function runProcess(argv: string[] = process.argv.slice(2)): Promise<void> {
  const ctx = createContext();
  const debug = wantsDebug(argv, ctx.env);
  const secrets = secretsOf(argv, ctx.env);
  const fatal = (e: unknown) => {
    try {
      reportError(e, ctx, debug, secrets);
    } finally {
      process.exit(exitCodeFor(e));
    }
  };
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    fatal(e);
  });
  process.stderr.on("error", () => {
    // nowhere left to report to; keep working and exit with the command's code
  });
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  const interrupted = handleSignals(ctx);
  const code = await main(argv, ctx);
  // a failed or interrupted command has cleaned up: nothing it left pending (a read blocked on
  // a pipe, a socket) may keep the process alive
  if (interrupted.signal || code !== 0) process.exit(code);
  process.exitCode = code;
}

const SIGNAL_EXIT = { SIGINT: EXIT.SIGINT, SIGTERM: EXIT.SIGTERM } as const;
/** How long a command may take to clean up after SIGINT/SIGTERM before the process ends anyway. */
const CLEANUP_GRACE_MS = 15_000;

/**
 * SIGINT/SIGTERM: a command that handles them (`ctx.handlesInterrupt`) is cancelled through
 * `ctx.interrupt` and cleans up, then the process exits 130/143; a second signal, or a
 * clean-up longer than the grace period, ends it at once (temporary paths registered with
 * `removeOnExit` are still removed). Commands that do not handle them end at once, as Node's
 * default would.
 */
function handleSignals(ctx: CliContext): { signal: Interrupted["signal"] | undefined } {
  const state: { signal: Interrupted["signal"] | undefined } = { signal: undefined };
  const controller = new AbortController();
  ctx.interrupt = controller.signal;
  const on = (signal: Interrupted["signal"]) => {
    if (state.signal !== undefined || !ctx.handlesInterrupt) process.exit(SIGNAL_EXIT[signal]);
    state.signal = signal;
    const reason: Interrupted = { signal };
    controller.abort(reason);
    setTimeout(() => process.exit(SIGNAL_EXIT[signal]), CLEANUP_GRACE_MS).unref();
  };
  process.on("SIGINT", () => on("SIGINT"));
  process.on("SIGTERM", () => on("SIGTERM"));
  return state;
}

export { OcipatchError };
