import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { registerDbCommand } from "./db.js";
import { registerScanCommand } from "./scan.js";

/** Every subcommand registers itself here. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerDbCommand(program, ctx);
  registerScanCommand(program, ctx);
}
