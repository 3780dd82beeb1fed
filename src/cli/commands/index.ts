import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { registerDbCommand } from "./db.js";
import { registerPatchCommand } from "./patch.js";
import { registerSbom } from "./sbom.js";
import { registerScanCommand } from "./scan.js";

/** Every subcommand registers itself here. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerPatchCommand(program, ctx);
  registerScanCommand(program, ctx);
  registerSbom(program, ctx);
  registerDbCommand(program, ctx);
}
