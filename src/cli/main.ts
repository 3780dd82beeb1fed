import { Command, CommanderError } from "commander";
import { exitCodeFor, isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import { VERSION } from "../version.js";
import { registerCommands } from "./commands/index.js";
import { type CliContext, createContext } from "./context.js";
import { redact, secretsInArgv } from "./registry-flags.js";

function wantsDebug(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return argv.includes("--debug") || env["OCIPATCH_DEBUG"] === "1";
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], ctx: CliContext = createContext()): Promise<number> {
  const debug = wantsDebug(argv, ctx.env);
  // values of credential flags never reach any message, even when a flag is misspelled
  const secrets = secretsInArgv(argv);
  const program = new Command("ocipatch");
  program
    .description(
      "Find and fix OS-level vulnerabilities in container images: no daemon, no root, no emulation.",
    )
    .version(VERSION, "-v, --version", "print the version")
    .option("--debug", "show stack traces and debug logs")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(redact(s, secrets)),
      // usage errors: one line, like every other error
      outputError: (s, write) =>
        write(`[error] ${oneLine(s.replace(/^error: /, ""))} (run with --help for usage)\n`),
    });
  try {
    // the first word that is not an option names the command (the program's own options take no value)
    const command = argv.find((a) => !a.startsWith("-"));
    // `ocipatch --version` needs no command loaded
    if (command !== undefined || !argv.some((a) => a === "-v" || a === "--version")) {
      await registerCommands(program, ctx, command);
    }
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0
      if (e.exitCode === 0) return 0;
      return 2;
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
  ctx.stderr.write(redact(`[error] ${prefix}${oneLine(e)}\n`, secrets));
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
  const secrets = secretsInArgv(argv);
  const fatal = (e: unknown) => {
    try {
      reportError(e, ctx, debug, secrets);
    } finally {
      process.exit(1);
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
  process.exitCode = await main(argv, ctx);
}

export { OcipatchError };
