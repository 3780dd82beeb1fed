import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { registerSbom } from "./sbom.js";

/** Every subcommand registers itself here. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerSbom(program, ctx);
}
