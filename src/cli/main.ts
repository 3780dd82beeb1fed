import { Command, CommanderError } from "commander";
import { exitCodeFor, isOcipatchError, OcipatchError, oneLine } from "../errors.js";
import { VERSION } from "../version.js";
import { registerCommands } from "./commands/index.js";
import { type CliContext, createContext } from "./context.js";

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], ctx: CliContext = createContext()): Promise<number> {
  const debug = argv.includes("--debug") || process.env["OCIPATCH_DEBUG"] === "1";
  const program = new Command("ocipatch");
  program
    .description(
      "Find and fix OS-level vulnerabilities in container images: no daemon, no root, no emulation.",
    )
    .version(VERSION, "-v, --version", "print the version")
    .option("--debug", "show stack traces and debug logs")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(s),
    });
  registerCommands(program, ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode ?? 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit through here with code 0
      if (e.exitCode === 0) return 0;
      return 2;
    }
    reportError(e, ctx, debug);
    return exitCodeFor(e);
  }
}

export function reportError(e: unknown, ctx: CliContext, debug: boolean): void {
  const prefix = isOcipatchError(e) ? "" : "unexpected error: ";
  ctx.stderr.write(`[error] ${prefix}${oneLine(e)}\n`);
  if (debug && e instanceof Error && e.stack) {
    ctx.stderr.write(`${e.stack}\n`);
    let cause = e.cause;
    while (cause instanceof Error) {
      ctx.stderr.write(`caused by: ${cause.stack ?? cause.message}\n`);
      cause = cause.cause;
    }
  }
}

export { OcipatchError };
