import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { registerCopyCommand } from "./copy.js";
import { registerDbCommand } from "./db.js";
import { registerInspectCommand } from "./inspect.js";
import { registerSbom } from "./sbom.js";
import { registerScanCommand } from "./scan.js";

/** Every subcommand registers itself here. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerScanCommand(program, ctx);
  registerSbom(program, ctx);
  registerDbCommand(program, ctx);
  registerCopyCommand(program, ctx);
  registerInspectCommand(program, ctx);
}
