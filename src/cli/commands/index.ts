import type { Command } from "commander";
import type { CliContext } from "../context.js";

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Every subcommand, loaded on demand: a run of one command imports only that command's
 * modules (the vulnerability database, OpenPGP, SBOM libraries... stay unloaded for a copy),
 * which keeps start-up short. Help lists them in this order.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  patch: async () => (await import("./patch.js")).registerPatchCommand,
  scan: async () => (await import("./scan.js")).registerScanCommand,
  sbom: async () => (await import("./sbom.js")).registerSbom,
  db: async () => (await import("./db.js")).registerDbCommand,
  copy: async () => (await import("./copy.js")).registerCopyCommand,
  inspect: async () => (await import("./inspect.js")).registerInspectCommand,
};

/** The command words, in help's order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Register `only` when it names a command, else every command (for help and unknown names). */
export async function registerCommands(program: Command, ctx: CliContext, only?: string): Promise<void> {
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program, ctx);
}
